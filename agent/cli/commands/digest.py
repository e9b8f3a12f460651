"""`agent digest [--as-of DATE] [--format text|markdown|html|json] [--send]`."""

from __future__ import annotations

from datetime import date, datetime

import click

from agent.cli.app import App
from agent.cli.commands.options import as_of_option
from agent.digest.delivery import deliver_digest, prepare_digest, preview_digest
from agent.digest.render import FORMATS, render
from agent.errors import UserError


@click.command("digest")
@as_of_option
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="Output format when printing (default: text).")  # fmt: skip
@click.option("--send", is_flag=True, help="E-mail it (text and HTML parts) instead of "
              "printing it; the send is recorded for the current [digest] period.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="With --send: print the message that would be "
              "sent (headers and parts), send and record nothing.")  # fmt: skip
@click.pass_obj
def digest(app: App, as_of: date | None, fmt: str | None, send: bool, dry_run: bool) -> None:
    """Build the digest: fading, one-sided and owed relationships, with suggestions."""
    day = as_of
    if dry_run and not send:
        raise UserError("--dry-run goes with --send: it shows the mail --send would send")
    if dry_run:
        now = datetime.now(app.config.me.tz)
        as_of_end = app.as_of(day) if day else None
        click.echo(
            preview_digest(app.config, app.store(write=False), now, as_of=as_of_end), nl=False
        )
        return
    if send:
        if fmt:
            raise UserError(
                "--format only applies to printing; with --send the e-mail carries text "
                "and HTML parts ([digest] format picks the primary one)"
            )
        now = datetime.now(app.config.me.tz)
        as_of_end = app.as_of(day) if day else None
        result = deliver_digest(app.config, app.store(), now, as_of=as_of_end)
        note = "" if result.recorded else f" (period {result.period} was already recorded)"
        click.echo(f"digest sent to {result.recipient}: {result.findings} findings, "
                   f"Message-ID {result.message_id}{note}")  # fmt: skip
        return
    built = prepare_digest(app.config, app.store(write=False), app.as_of(day))
    click.echo(render(built, fmt or "text", app.config.me.language), nl=False)


COMMANDS: list[click.Command] = [digest]
