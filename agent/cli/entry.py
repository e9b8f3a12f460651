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
from typing import Any

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


def _unraisable(hook: Any) -> None:
    """A signal that lands in a finaliser or an import-lock callback can only be printed and
    dropped by Python ("Exception ignored in ..." and a traceback), and the command would go
    on as if the user had not asked it to stop. Send the signal again instead: it is raised
    in ordinary code a moment later, and ends in the usual one line and exit code."""
    if isinstance(hook.exc_value, KeyboardInterrupt):
        terminated = isinstance(hook.exc_value, Terminated)
        signal.raise_signal(signal.SIGTERM if terminated else signal.SIGINT)
        return
    _default_unraisable(hook)


_default_unraisable = sys.unraisablehook


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.unraisablehook = _unraisable
    try:
        import click

        from agent.cli.main import main as cli

        # Not click's standalone mode: it would turn an interrupt into "Aborted!", exit 1.
        try:
            code = cli.main(prog_name="agent", standalone_mode=False)
        except click.ClickException as exc:  # bad usage: click's own message, exit 2
            exc.show()
            code = exc.exit_code
        except click.exceptions.Abort:
            code = 1
    except KeyboardInterrupt as exc:
        code = interrupted(exc)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
