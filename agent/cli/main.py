"""`agent [--config PATH] [-v] [--debug] COMMAND`: one error boundary for every command.

Commands live one per module in agent/cli/commands/ and only parse arguments and call one
function; AgentError becomes a message and its exit code here, tracebacks only with --debug.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
from typing import Any

import click

from agent import __version__
from agent.cli import colour
from agent.cli.app import App
from agent.cli.commands import check, decide, digest, init, people, rules, run, status, sync
from agent.errors import AgentError

log = logging.getLogger("agent")


class AgentGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AgentError as exc:
            if _debug(ctx):
                raise
            click.echo(f"{colour.paint('error:', 'failed')} {exc}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (agent.cli.entry.Terminated)
            from agent.cli.entry import interrupted

            sys.exit(interrupted(exc))
        except Exception as exc:  # the one boundary: a bug is still one readable message
            if _debug(ctx):
                raise
            if _disk_full(exc):
                click.echo(
                    "error: the disk is full; what was synced is kept: free some space and "
                    "run the command again",
                    err=True,
                )
                sys.exit(1)
            log.debug("unexpected error", exc_info=True)
            click.echo(
                f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for "
                "the traceback)",
                err=True,
            )
            sys.exit(1)
        finally:
            if isinstance(ctx.obj, App):
                _close_deferring_signals(ctx.obj)


def _close_deferring_signals(app: App) -> None:
    """Close the database with SIGINT/SIGTERM held back: an interrupt inside the driver's
    close left a traceback in the log and ended in click's "Aborted!". One that came in
    meanwhile is honoured right after, as the usual one line and exit code."""
    from agent.cli.entry import Terminated, interrupted

    caught: list[int] = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, lambda n, _f: caught.append(n))
        except ValueError:  # not the main thread: nothing to hold back
            break
    try:
        app.close()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if caught:
        exc = Terminated() if caught[0] == signal.SIGTERM else KeyboardInterrupt()
        sys.exit(interrupted(exc))


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC or SQLite's "database or disk is full", however deep it was wrapped."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if "database or disk is full" in str(seen) or "No space left on device" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "orig", None)
    return False


def _debug(ctx: click.Context) -> bool:
    return isinstance(ctx.obj, App) and ctx.obj.debug


@click.group(cls=AgentGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (default: $AGENT_CONFIG, then $XDG_CONFIG_HOME/agent/config.toml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what is being done.")
@click.option("--debug", is_flag=True, help="Log everything; show tracebacks.")
@click.option(
    "--color", "color", type=click.Choice(colour.CHOICES), default="auto", show_default=True,
    help="Colour: on a terminal only (auto, and never with $NO_COLOR set), always, or never.",
)  # fmt: skip
@click.version_option(__version__, prog_name="agent")
@click.pass_context
def main(
    ctx: click.Context, config_path: str | None, verbose: bool, debug: bool, color: str
) -> None:
    """Watches your mail and calendars and tells you which relationships need care."""
    ctx.color = colour.decide(color)
    _setup_logging(verbose, debug)
    ctx.obj = App(config_path=config_path, verbose=verbose, debug=debug)


def _stderr_is_journal() -> bool:
    """$JOURNAL_STREAM names the journal's socket as "dev:inode"; a child process may inherit
    the variable with stderr redirected elsewhere, so compare with what stderr really is."""
    try:
        dev, ino = (int(x) for x in os.environ.get("JOURNAL_STREAM", "").split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


# sd-daemon(3) priority prefixes: journald reads "<4>" as a warning when it owns stderr.
_SYSLOG = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class _Formatter(logging.Formatter):
    """``warning: message`` for people; ``WARNING module: message`` with --debug; under
    systemd ($JOURNAL_STREAM set) each line also carries its syslog priority for journald."""

    def __init__(self, debug: bool, journal: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s" if debug else "%(message)s")
        self.debug = debug
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if not self.debug:
            text = f"{record.levelname.lower()}: {text}"
        if self.journal:
            text = f"<{_SYSLOG.get(record.levelno, 3)}>{text}"
        return text


def _setup_logging(verbose: bool, debug: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(debug, journal=_stderr_is_journal()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if not debug:
        # imapclient logs protocol lines (including LOGIN) at DEBUG: never below WARNING here.
        logging.getLogger("imapclient").setLevel(logging.WARNING)


for module in (init, check, sync, people, digest, decide, rules, run, status):
    for command in module.COMMANDS:
        main.add_command(command)
