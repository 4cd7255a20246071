"""`spotify-ops verify`: does the deployed pipeline really work?

Stack outputs -> optionally run the pipeline -> the shared checks on Athena -> a verdict and a
CI-friendly exit code. Logic lives in pure functions; printing is the command's last step.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

import boto3
import typer
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from rich.console import Console, Group
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from spotify_glue.contract import DEFAULT_GATE, GateThresholds, RunSummary

from spotify_ops.athena import AthenaEngine, QueryFailedError, QueryRecord
from spotify_ops.checks import CheckResult, TableNotFoundError, run_checks
from spotify_ops.exit_codes import ExitCode
from spotify_ops.glue_runner import (
    PipelineBusyError,
    PipelineFailedError,
    RunOutcome,
    run_pipeline,
)
from spotify_ops.polling import (
    Backoff,
    Clock,
    Deadline,
    Poller,
    SystemClock,
    WaitTimeoutError,
    error_code,
    error_message,
)
from spotify_ops.stack_outputs import (
    OutputsError,
    StackOutputs,
    parse_outputs,
    read_outputs_file,
    read_stack_outputs,
)

ClientFactory = Callable[[str], Any]
"""Service name ("athena", "glue", "s3") to a boto3 client."""

ClientFactoryBuilder = Callable[[str, str | None], ClientFactory]
"""(region, profile) to a ClientFactory."""

RETRY_CONFIG: Final = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=10,
    read_timeout=60,
    user_agent_extra="spotify-ops-verify",
)
"""Adaptive mode backs off and rate-limits the client itself when AWS throttles."""


def boto3_clients(region: str, profile: str | None) -> ClientFactory:
    """Clients for the stack's region, created on demand (never at import)."""
    session = boto3.session.Session(profile_name=profile, region_name=region)

    def client(service: str) -> Any:
        return session.client(service, config=RETRY_CONFIG)

    return client


@dataclass(frozen=True)
class Runtime:
    """What the command talks to. The CLI uses the defaults; tests pass their own through
    the click context object (``CliRunner.invoke(app, args, obj=Runtime(...))``)."""

    clients: ClientFactoryBuilder = boto3_clients
    clock: Clock = field(default_factory=SystemClock)


@dataclass(frozen=True)
class VerifyOptions:
    run: bool = False
    use_workflow: bool = True
    timeout: float = 1800.0
    """Seconds for the whole --run phase (workflow, or job plus crawler)."""
    poll_interval: float = 15.0
    query_timeout: float = 600.0
    """Seconds per Athena query."""
    gate: GateOverrides = field(default_factory=lambda: GateOverrides())
    """Thresholds given on the command line; the rest come from the last run summary."""


@dataclass(frozen=True)
class GateOverrides:
    """Gate thresholds given on the command line (None: not given)."""

    min_rows: int | None = None
    max_quarantine_rate: float | None = None
    max_join_loss_rate: float | None = None

    def over(self, base: GateThresholds) -> GateThresholds:
        return GateThresholds(
            min_rows=base.min_rows if self.min_rows is None else self.min_rows,
            max_quarantine_rate=(
                base.max_quarantine_rate
                if self.max_quarantine_rate is None
                else self.max_quarantine_rate
            ),
            max_join_loss_rate=(
                base.max_join_loss_rate
                if self.max_join_loss_rate is None
                else self.max_join_loss_rate
            ),
        )


def gate_of_run(summary: RunSummary | None) -> GateThresholds:
    """The thresholds the job judged its last run by, so a stack's gate config (gateMinRows
    and the rest) needs no repeating here; the contract's defaults when the summary lacks them."""
    recorded = summary.gate if summary is not None else {}
    try:
        return GateThresholds(
            min_rows=int(recorded["min_rows"]),
            max_quarantine_rate=float(recorded["max_quarantine_rate"]),
            max_join_loss_rate=float(recorded["max_join_loss_rate"]),
        )
    except (KeyError, TypeError, ValueError):
        return DEFAULT_GATE


@dataclass
class Verdict:
    outputs: StackOutputs
    gate: GateThresholds
    checks: list[CheckResult]
    runs: list[RunOutcome] = field(default_factory=list)
    queries: list[QueryRecord] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.passed else ExitCode.FAILED


# --- the run summary ---------------------------------------------------------------------------


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def load_run_summary(s3: Any, location: str) -> tuple[RunSummary | None, CheckResult]:
    """The job's latest run summary, and a check saying whether it shows a published run.

    A missing or malformed summary is a failed check, not a crash: the shared checks then
    report what they cannot judge without it."""
    bucket, key = split_s3_uri(location)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) in {"NoSuchKey", "404"}:
            return None, CheckResult(
                "run_summary",
                False,
                f"no run summary at {location}; the job has not published yet "
                "(run the pipeline with verify --run)",
            )
        raise
    try:
        summary = RunSummary.from_json(body.decode("utf-8"))
    except (ValueError, TypeError) as exc:
        return None, CheckResult("run_summary", False, f"malformed summary at {location}: {exc}")
    if summary.status != "published":
        failures = "; ".join(summary.gate_failures) or "no reason recorded"
        return summary, CheckResult(
            "run_summary",
            False,
            f"last run {summary.run_id} was {summary.status} by the quality gate: {failures}",
        )
    return summary, CheckResult(
        "run_summary",
        True,
        f"run {summary.run_id} published {summary.rows_written} rows at {summary.finished_at}",
    )


# --- orchestration -----------------------------------------------------------------------------


def verify(
    outputs: StackOutputs,
    options: VerifyOptions,
    clients: ClientFactory,
    clock: Clock,
    progress: Callable[[str], None] = lambda _message: None,
) -> Verdict:
    """Run the pipeline if asked, then every check. Errors that stop verification (a failed
    run, an AWS error, a timeout) raise; a check that fails is part of the verdict."""
    glue = clients("glue")
    runs: list[RunOutcome] = []
    if options.run:
        poller = Poller(
            clock=clock,
            deadline=Deadline(clock, options.timeout),
            backoff=Backoff(initial=options.poll_interval, maximum=options.poll_interval),
        )
        runs = run_pipeline(
            glue,
            job_name=outputs.job_name,
            crawler_name=outputs.crawler_name,
            workflow_name=outputs.workflow_name,
            use_workflow=options.use_workflow,
            poller=poller,
            progress=progress,
        )
    progress("reading the last run summary")
    summary, summary_check = load_run_summary(clients("s3"), outputs.run_summary_location)
    engine = AthenaEngine(
        athena=clients("athena"),
        glue=glue,
        database=outputs.database_name,
        table=outputs.table_name,
        workgroup=outputs.workgroup_name,
        output_location=outputs.results_location,
        clock=clock,
        query_timeout=options.query_timeout,
        on_progress=progress,
    )
    gate = options.gate.over(gate_of_run(summary))
    try:
        checks = run_checks(engine, summary, gate)
    except TableNotFoundError as exc:
        checks = [CheckResult("schema", False, str(exc))]
    return Verdict(
        outputs=outputs,
        gate=gate,
        checks=[summary_check, *checks],
        runs=runs,
        queries=engine.records,
    )


# --- errors to exit codes ------------------------------------------------------------------------

_CREDENTIAL_CODES: Final = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)
_ACCESS_CODES: Final = frozenset({"AccessDenied", "AccessDeniedException"})

_NO_CREDENTIALS: Final = (
    "no usable AWS credentials were found; set AWS_PROFILE (or --profile), run "
    "`aws sso login`, or give the CI job a role (e.g. OIDC) before running verify"
)


def classify_error(exc: BaseException) -> tuple[ExitCode, str] | None:
    """The exit code and a one-line message for an error that stops verification; None for
    anything unexpected (a bug, which should surface with its traceback).

    Messages use AWS's error code and message only, never the response or the credentials."""
    if isinstance(exc, OutputsError):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, ProfileNotFound):
        return ExitCode.USAGE, (
            f"AWS profile {exc.kwargs.get('profile')!r} is not configured; "
            "check --profile or AWS_PROFILE (`aws configure list-profiles`)"
        )
    if isinstance(exc, NoRegionError):
        return ExitCode.USAGE, "no AWS region; the stack's 'region' output should set it"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return ExitCode.ENVIRONMENT, _NO_CREDENTIALS
    if isinstance(exc, PipelineFailedError):
        return ExitCode.FAILED, str(exc)
    if isinstance(exc, QueryFailedError):
        if exc.system:
            return ExitCode.ENVIRONMENT, f"{exc} (an Athena-side error; retry later)"
        return ExitCode.FAILED, str(exc)
    if isinstance(exc, WaitTimeoutError | PipelineBusyError):
        return ExitCode.ENVIRONMENT, str(exc)
    if isinstance(exc, ClientError):
        code, message = error_code(exc), error_message(exc)
        where = f"{exc.operation_name} returned {code}: {message}"
        if code in _CREDENTIAL_CODES:
            return ExitCode.ENVIRONMENT, f"AWS rejected the credentials ({where}); refresh them"
        if code in _ACCESS_CODES:
            return ExitCode.ENVIRONMENT, (
                f"access denied ({where}); the verifier's IAM permissions are listed in "
                "docs/verify.md"
            )
        return ExitCode.ENVIRONMENT, f"AWS error: {where}"
    if isinstance(exc, BotoCoreError):
        return ExitCode.ENVIRONMENT, f"could not complete an AWS call: {exc}"
    return None


# --- formatting (pure: returns renderables and dicts, prints nothing) ---------------------------


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The machine-readable verdict. Stack outputs hold names and URIs only, no secrets."""
    return {
        "passed": verdict.passed,
        "exit_code": int(verdict.exit_code),
        "checks": [asdict(c) for c in verdict.checks],
        "runs": [asdict(r) for r in verdict.runs],
        "queries": [asdict(q) for q in verdict.queries],
        "gate": asdict(verdict.gate),
        "outputs": verdict.outputs.as_outputs(),
    }


def error_json(code: ExitCode, message: str) -> dict[str, Any]:
    return {"passed": False, "exit_code": int(code), "error": message}


def verdict_summary_line(verdict: Verdict) -> str:
    failed = [c.name for c in verdict.checks if not c.passed]
    if not failed:
        return f"PASSED: all {len(verdict.checks)} checks passed"
    return f"FAILED: {len(failed)} of {len(verdict.checks)} checks failed ({', '.join(failed)})"


def render_verdict(verdict: Verdict) -> Group:
    outputs = verdict.outputs
    title = (
        f"{outputs.database_name}.{outputs.table_name} via workgroup {outputs.workgroup_name} "
        f"({outputs.region})"
    )
    table = Table(title=escape(title), title_justify="left", expand=False)
    table.add_column("Check", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Detail")
    for check in verdict.checks:
        result = Text("PASS", style="bold green") if check.passed else Text("FAIL", "bold red")
        table.add_row(escape(check.name), result, escape(check.detail))
    runs = [
        Text(f"{run.kind} {run.name}: {run.state} {run.detail}".rstrip()) for run in verdict.runs
    ]
    line = Text(verdict_summary_line(verdict), style="bold green" if verdict.passed else "bold red")
    return Group(*runs, table, line)


# --- the command -------------------------------------------------------------------------------


@contextmanager
def progress_display(console: Console) -> Iterator[Callable[[str], None]]:
    """A spinner with elapsed time on a terminal; elsewhere (CI logs) one line per change."""
    if console.is_terminal:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("starting")
            yield lambda message: bar.update(task, description=escape(message))
        return
    last: list[str] = [""]

    def show(message: str) -> None:
        if message != last[0]:
            console.print(escape(message), soft_wrap=True, highlight=False)
            last[0] = message

    yield show


def load_outputs(stack: str | None, outputs_file: str | None) -> StackOutputs:
    if stack and outputs_file:
        raise OutputsError("pass either --stack or --outputs, not both")
    if stack:
        return read_stack_outputs(stack)
    if outputs_file == "-":
        return parse_outputs(sys.stdin.read(), "standard input")
    if outputs_file:
        return read_outputs_file(Path(outputs_file))
    raise OutputsError(
        "no stack outputs: pass --stack NAME (needs the pulumi CLI) or --outputs FILE "
        "(from `pulumi stack output --json > outputs.json`; '-' reads standard input)"
    )


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
    min_rows: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Gate: fewest rows (default: what the last run was judged by).",
        ),
    ] = None,
    max_quarantine_rate: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Gate: highest quarantine rate (default: as the last run).",
        ),
    ] = None,
    max_join_loss_rate: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Gate: highest join loss rate (default: as the last run).",
        ),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="AWS profile (else the usual AWS environment).")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the verdict as JSON on standard output.")
    ] = False,
) -> None:
    """Verify a deployed stack: optionally run the pipeline, then check the table on Athena.

    Exit codes: 0 passed; 1 a check or the pipeline run failed; 2 usage, config or outputs
    error; 3 AWS error or timeout."""
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
        outputs = load_outputs(stack, outputs_file)
        clients = runtime.clients(outputs.region, profile)
        with progress_display(err) as progress:
            verdict = verify(outputs, options, clients, runtime.clock, progress)
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
        typer.echo(json.dumps(verdict_json(verdict), indent=2))
    else:
        out.print(render_verdict(verdict))
    raise typer.Exit(int(verdict.exit_code))
