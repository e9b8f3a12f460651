"""`agent check [--offline]`: validate config and rules, then log in to each source."""

from __future__ import annotations

import click

from agent.app import App
from agent.errors import AgentError, OperationError
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
    if offline:
        return
    failed = [s.name for s in source_configs(config) if not _check_source(app, s)]
    if failed:
        raise OperationError(f"cannot use {', '.join(failed)}")


def _load_rules(app: App) -> str:
    from rules.loader import load_ruleset

    ruleset = load_ruleset(app.config.rule_files)
    return f"{len(ruleset.rules)} active rules"


def _check_source(app: App, source: object) -> bool:
    name = getattr(source, "name", "?")
    try:
        detail = connector_for(source, app.config.me).check()
    except AgentError as exc:
        click.echo(f"{name}: FAILED: {exc}")
        return False
    click.echo(f"{name}: ok: {detail}")
    return True


COMMANDS = [check]
