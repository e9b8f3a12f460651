"""`agent sync [--source NAME]`: poll every source once and print what was new."""

from __future__ import annotations

import click

from agent.app import App
from agent.errors import OperationError
from agent.progress import ProgressLine
from agent.safe_text import clean
from agent.sync import SourceResult, sync_all

UNITS = {"imap": "messages", "maildir": "messages", "ics": "meetings", "caldav": "meetings"}


@click.command()
@click.option("--source", metavar="NAME", help="Sync only this account or calendar.")
@click.pass_obj
def sync(app: App, source: str | None) -> None:
    """Poll every source once, incrementally; print new interactions per source."""
    config = app.config
    if not config.sources:
        click.echo("no [[accounts]] or [[calendars]] configured: nothing to sync", err=True)
        return
    progress = ProgressLine()
    try:
        results = sync_all(config, app.store(), only=source, progress=progress)
    finally:
        progress.clear()
    for result in results:
        click.echo(describe(result))
    failed = [r.source for r in results if not r.ok]
    if failed:
        raise OperationError(f"sync failed for {', '.join(failed)}")


def describe(result: SourceResult) -> str:
    if not result.ok:
        return f"{result.source}: FAILED: {clean(result.error)}"
    unit = UNITS.get(result.kind, "items")
    return f"{result.source}: {result.new} new {unit[:-1] if result.new == 1 else unit}"


COMMANDS = [sync]
