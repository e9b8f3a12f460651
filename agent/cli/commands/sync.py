"""`agent sync [--source NAME]`: poll every source once and print what was new."""

from __future__ import annotations

import json

import click

from agent.cli.app import App
from agent.cli.colour import paint
from agent.cli.progress import ProgressLine
from agent.errors import OperationError
from agent.runtime import lock
from agent.runtime.sync import SourceResult, source_configs, sync_all
from agent.safe_text import clean

LOCK_WAIT_SECONDS = 5.0
UNITS = {"imap": "messages", "maildir": "messages", "ics": "meetings", "caldav": "meetings",
         "vcard": "cards", "carddav": "cards"}  # fmt: skip


@click.command()
@click.option("--source", metavar="NAME", help="Sync only this account or calendar.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one object per source, for scripts.")  # fmt: skip
@click.pass_obj
def sync(app: App, source: str | None, fmt: str) -> None:
    """Poll every source once, incrementally; print new interactions per source."""
    config = app.config
    source_configs(config, source)  # a config without mail, a --source typo: before any file
    store = app.store()
    # One sync per database at a time, a daemon's included: two would fetch everything twice.
    held = lock.acquire_waiting(store.engine, LOCK_WAIT_SECONDS)
    progress = ProgressLine() if fmt == "text" else None
    try:
        results = sync_all(config, store, only=source, progress=progress or _quiet)
    finally:
        held.release()
        if progress is not None:
            progress.clear()
    if fmt == "json":
        click.echo(json.dumps([_json(r) for r in results], indent=2, ensure_ascii=False))
    else:
        for result in results:
            click.echo(describe(result))
    failed = [r.source for r in results if not r.ok]
    if failed:
        raise OperationError(f"sync failed for {', '.join(failed)}")


def _quiet(source: str, folder: str, done: int, total: int | None) -> None:
    """No progress line: the JSON is the whole output."""


def _json(result: SourceResult) -> dict[str, object]:
    return {
        "source": result.source,
        "type": result.kind,
        "new": result.new,
        "ok": result.ok,
        "error": clean(result.error) if result.error else None,
    }


def describe(result: SourceResult) -> str:
    if not result.ok:
        return f"{result.source}: {paint('FAILED', 'failed')}: {clean(result.error)}"
    unit = UNITS.get(result.kind, "items")
    return f"{result.source}: {result.new} new {unit[:-1] if result.new == 1 else unit}"


COMMANDS = [sync]
