"""`agent check [--offline]`: validate config and rules, then log in to each source."""

from __future__ import annotations

import click

from agent.app import App
from agent.errors import AgentError, OperationError, UserError
from agent.sync import source_configs
from connectors import connector_for


@click.command()
@click.option("--offline", is_flag=True, help="Do not contact any server.")
@click.pass_obj
def check(app: App, offline: bool) -> None:
    """Validate config and rules; with the network, log in to each source."""
    config = app.config
    click.echo(f"config: ok ({config.path})")
    ruleset = _load_rules(app)
    click.echo(f"rules: ok ({ruleset})")
    app.store()
    click.echo("database: ok")
    # Offline, local sources (a Maildir, a calendar file) are still read: no network needed.
    sources = [s for s in source_configs(config) if not offline or _is_local(s)]
    errors = [e for e in (_check_source(app, s) for s in sources) if e is not None]
    if errors:
        names = ", ".join(name for name, _ in errors)
        if any(isinstance(e, UserError) for _, e in errors):
            raise UserError(f"cannot use {names}: fix the config")
        raise OperationError(f"cannot use {names}")


def _is_local(source: object) -> bool:
    if getattr(source, "type", "") == "maildir":
        return True
    url = str(getattr(source, "url", ""))
    return getattr(source, "type", "") == "ics" and ("://" not in url or url.startswith("file:"))


def _load_rules(app: App) -> str:
    from rules.loader import load_ruleset

    ruleset = load_ruleset(app.config.rule_files)
    return f"{len(ruleset.rules)} active rules"


def _check_source(app: App, source: object) -> tuple[str, AgentError] | None:
    name = getattr(source, "name", "?")
    try:
        detail = connector_for(source, app.config.me).check()
    except AgentError as exc:
        click.echo(f"{name}: FAILED: {exc}")
        return name, exc
    click.echo(f"{name}: ok: {detail}")
    return None


COMMANDS = [check]
