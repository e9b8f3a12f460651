"""The `agent` command's entry point: signals handled before anything heavy is imported.

Ctrl-C during start-up used to print a KeyboardInterrupt traceback from inside SQLAlchemy's
import, and SIGTERM killed a sync without a word. Here SIGTERM becomes ``Terminated`` (a
KeyboardInterrupt, so every cleanup path runs), and either ends in one line and exit code
130 (SIGINT) or 143 (SIGTERM), at any moment.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same cleanup runs."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def interrupted(exc: BaseException) -> int:
    """Say so in one line; the exit code the shell expects for the signal."""
    terminated = isinstance(exc, Terminated)
    try:
        sys.stderr.write("terminated\n" if terminated else "interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return EXIT_SIGTERM if terminated else EXIT_SIGINT


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from agent.cli import main as cli

        cli(prog_name="agent")
    except KeyboardInterrupt as exc:
        sys.exit(interrupted(exc))


if __name__ == "__main__":
    main()
