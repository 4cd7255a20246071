"""The operator CLI: `spotify-ops --help`. Exit codes: ``spotify_ops.exit_codes.ExitCode``
(docs/exit-codes.md)."""

from __future__ import annotations

from typing import Any

import typer
from typer._click import Context  # typer vendors click; its Context is this one
from typer.core import TyperGroup

from spotify_ops.exit_codes import ExitCode
from spotify_ops.generate import generate_command
from spotify_ops.local_run import local_run_command
from spotify_ops.preflight import preflight_command
from spotify_ops.stacks import stack_config_command
from spotify_ops.verify import verify_command


class Commands(TyperGroup):
    """Ctrl-C in any command ends it with one line and ``ExitCode.INTERRUPTED``; commands
    with more to say (what was kept, what was undone) catch it themselves first."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            typer.echo(f"spotify-ops {ctx.invoked_subcommand or ''}: interrupted", err=True)
            raise typer.Exit(ExitCode.INTERRUPTED) from None


app = typer.Typer(
    name="spotify-ops",
    help="Run the Spotify pipeline locally, make sample data, check and verify a stack.",
    no_args_is_help=True,
    add_completion=False,
    cls=Commands,
)

app.command("local-run")(local_run_command)
app.command("generate")(generate_command)
app.command("verify")(verify_command)
app.command("stack-config")(stack_config_command)
app.command("preflight")(preflight_command)
