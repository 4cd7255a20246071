"""The `spotify-ops` entry point. Ctrl-C while the CLI is still loading is one line and
exit 130, as it is once a command runs (spotify_ops.cli.Commands)."""

from __future__ import annotations

import sys

from spotify_ops.exit_codes import ExitCode


def main() -> None:
    try:
        from spotify_ops.cli import app
    except KeyboardInterrupt:
        sys.stderr.write("spotify-ops: interrupted\n")
        raise SystemExit(ExitCode.INTERRUPTED) from None
    app()


if __name__ == "__main__":
    main()
