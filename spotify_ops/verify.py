"""`spotify-ops verify`: does the deployed pipeline really work?

Stack outputs -> optionally run the pipeline -> the checks (``spotify_ops.verdict``) -> a
verdict (``spotify_ops.verdict_format``) and a CI-friendly exit code. This module only
parses the options and prints.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from spotify_glue.gate import DEFAULT_GATE

from spotify_ops.aws_runtime import ProfileOption, Runtime, classify_error, error_json
from spotify_ops.exit_codes import ExitCode
from spotify_ops.stack_outputs import load_outputs
from spotify_ops.verdict import GateOverrides, VerifyOptions, verify_stack
from spotify_ops.verdict_format import progress_display, render_verdict, verdict_json


def verify_command(
    ctx: typer.Context,
    stack: Annotated[
        str | None,
        typer.Option(help="Read outputs of this stack with `pulumi stack output --json`."),
    ] = None,
    outputs_file: Annotated[
        str | None,
        typer.Option(
            "--outputs",
            metavar="FILE",
            help="JSON written by `pulumi stack output --json`; '-' reads standard input.",
        ),
    ] = None,
    run: Annotated[
        bool, typer.Option("--run", help="Run the pipeline first and wait for it.")
    ] = False,
    workflow: Annotated[
        bool,
        typer.Option(
            "--workflow/--no-workflow",
            help="With --run: start the Glue workflow, or the job and then the crawler.",
        ),
    ] = True,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds allowed for the whole --run phase.")
    ] = VerifyOptions.timeout,
    poll_interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between Glue status polls.")
    ] = VerifyOptions.poll_interval,
    query_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds allowed per Athena query.")
    ] = VerifyOptions.query_timeout,
    # Their ranges are checked once, by spotify_glue.gate (GateOverrides.over, below).
    min_rows: Annotated[
        int | None,
        typer.Option(help="Gate: fewest rows (default: what the published run was judged by)."),
    ] = None,
    max_quarantine_rate: Annotated[
        float | None,
        typer.Option(help="Gate: highest quarantine rate, 0 to 1 (default: as the published run)."),
    ] = None,
    max_join_loss_rate: Annotated[
        float | None,
        typer.Option(help="Gate: highest join loss rate, 0 to 1 (default: as the published run)."),
    ] = None,
    profile: ProfileOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the verdict as JSON on standard output.")
    ] = False,
) -> None:
    """Verify a deployed stack: optionally run the pipeline, then check the table on Athena.

    Exit codes: 0 passed; 1 a check or the pipeline run failed;
    2 usage, config or outputs error; 3 AWS error or timeout."""
    runtime = ctx.find_object(Runtime) or Runtime()
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    options = VerifyOptions(
        run=run,
        use_workflow=workflow,
        timeout=timeout,
        poll_interval=poll_interval,
        query_timeout=query_timeout,
        gate=GateOverrides(min_rows, max_quarantine_rate, max_join_loss_rate),
    )
    try:
        options.gate.over(DEFAULT_GATE)  # a bad threshold is a usage error before any AWS call
        outputs = load_outputs(stack, outputs_file)
        clients = runtime.clients(outputs.region, profile)
        with progress_display(err) as progress:
            verdict = verify_stack(outputs, options, clients, runtime.clock, progress)
    except KeyboardInterrupt:
        if json_output:  # a pipeline reading the verdict gets one; the CLI says the rest
            typer.echo(json.dumps(error_json(ExitCode.INTERRUPTED, "interrupted"), indent=2))
        raise
    except Exception as exc:
        classified = classify_error(exc)
        if classified is None:
            raise
        code, message = classified
        err.print(Text(f"verify: {message}", style="bold red"), soft_wrap=True)
        if json_output:
            typer.echo(json.dumps(error_json(code, message), indent=2))
        raise typer.Exit(int(code)) from None
    if json_output:
        for note in verdict.notes:
            err.print(Text(f"verify: note: {note}", style="yellow"), soft_wrap=True)
        typer.echo(json.dumps(verdict_json(verdict), indent=2))
    else:
        out.print(render_verdict(verdict))
    raise typer.Exit(int(verdict.exit_code))
