"""The one exit-code convention of every ``spotify-ops`` command (docs/exit-codes.md)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Everything the command set out to do succeeded."""
    FAILED = 1
    """The command ran, and what it judged failed: a check, the quality gate, a job, crawler
    or workflow run, a preflight requirement."""
    USAGE = 2
    """The user's input is wrong: arguments, options, config, input files or stack outputs.
    Nothing was changed; the message names the fix. An option that needs a missing tool, when
    another option does without it, is a usage error too (`--stack` without the pulumi CLI:
    pass a file instead)."""
    ENVIRONMENT = 3
    """Something outside the user's input failed: AWS refused or errored, a wait timed out,
    a disk could not be written, or the machine lacks a tool the command cannot do without
    (Java for local-run)."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C (128 + SIGINT, as shells report it)."""
