"""The operator CLI: `spotify-ops --help`."""

from __future__ import annotations

import typer

from spotify_ops.generate import generate_command
from spotify_ops.local_run import local_run_command
from spotify_ops.preflight import preflight_command
from spotify_ops.stacks import stack_config_command
from spotify_ops.verify import verify_command

app = typer.Typer(
    name="spotify-ops",
    help="Run the Spotify pipeline locally, make sample data, check and verify a stack.",
    no_args_is_help=True,
    add_completion=False,
)

app.command("local-run")(local_run_command)
app.command("generate")(generate_command)
app.command("verify")(verify_command)
app.command("stack-config")(stack_config_command)
app.command("preflight")(preflight_command)
