"""`agent run`: the daemon in the foreground, as systemd (Type=notify) starts it."""

from __future__ import annotations

import logging

import click

from agent.cli.app import App
from agent.runtime import daemon


@click.command("run")
@click.pass_obj
def run_command(app: App) -> None:
    """Sync on schedule and send the digest on its day, until SIGTERM or Ctrl-C."""
    # A daemon's log is its journal: one line per sync and digest even without -v.
    root = logging.getLogger()
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    daemon.run(app.config, app.store())


COMMANDS: list[click.Command] = [run_command]
