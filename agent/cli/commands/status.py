"""`agent status [--format table|json]`: last sync per source, last and next digest."""

from __future__ import annotations

import json
from datetime import datetime

import click

from agent.cli.app import App
from agent.cli.commands.options import format_option
from agent.runtime.status import build_status, render_table
from agent.safe_text import for_terminal, json_for_terminal


@click.command()
@format_option("table", "A table, or JSON for scripts and monitoring.")
@click.pass_obj
def status(app: App, fmt: str) -> None:
    """Last sync per source (when, how many new, last error), last and next digest."""
    report = build_status(app.config, app.store(write=False), datetime.now(app.config.me.tz))
    if fmt == "json":
        click.echo(json_for_terminal(json.dumps(report.to_json(), indent=2, ensure_ascii=False)))
    else:
        click.echo(for_terminal(render_table(report)))


COMMANDS: list[click.Command] = [status]
