"""`agent people` and `agent person QUERY`: the network, and one person in depth."""

from __future__ import annotations

import json
from datetime import date

import click

from agent.app import App
from agent.commands.options import as_date, as_of_option
from agent.errors import UserError
from agent.network import Network, load_network, load_reports
from agent.person import PersonReport
from agent.safe_text import for_terminal, json_for_terminal
from agent.views import find_person, people_table, person_view


@click.command()
@as_of_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
def people(app: App, as_of: date | None, fmt: str) -> None:
    """Every person with their key metrics."""
    reports = load_reports(app.config, app.store(), app.as_of(as_date(as_of)))
    if fmt == "json":
        text = json.dumps([r.to_json() for r in reports], indent=2, ensure_ascii=False)
        click.echo(json_for_terminal(text))
    else:
        click.echo(for_terminal(people_table(reports)))


@click.command()
@click.argument("query")
@as_of_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def person(app: App, query: str, as_of: date | None, fmt: str) -> None:
    """One person (id, address or part of the name): history, metrics, which rules fire and why."""
    moment = app.as_of(as_date(as_of))
    network = load_network(app.config, app.store(), moment)
    try:
        report: PersonReport = find_person(network.reports, query)
    except UserError as exc:
        raise UserError(_not_a_person(app, network, query) or str(exc)) from None
    history = network.derived.by_person.get(network.canonical[report.person.id], [])
    outcomes = _explain(app, report)
    shown = person_view(report, history, outcomes, app.config.me.tz, fmt, moment)
    click.echo(json_for_terminal(shown) if fmt == "json" else for_terminal(shown))


def _not_a_person(app: App, network: Network, query: str) -> str | None:
    """For an address the agent does not count as a person: why not, from its mail."""
    email = query.strip().lower()
    if "@" not in email:
        return None
    reason = network.identity.exclusion(email)
    counts = app.store().sender_reasons(email)
    machine = {r: n for r, n in counts.items() if r}
    if reason is None and not machine:
        return None
    total = sum(counts.values())
    why = [reason] if reason else []
    if machine:
        parts = ", ".join(f"{r}: {n}" for r, n in sorted(machine.items(), key=lambda kv: -kv[1]))
        why.append(f"{sum(machine.values())} of its {total} messages are automated ({parts})")
    return f"{email} is not treated as a person: " + "; ".join(why)


def _explain(app: App, report: PersonReport) -> list[object]:
    from rules.engine import explain
    from rules.loader import load_ruleset

    return list(explain(load_ruleset(app.config.rule_files), report))


COMMANDS = [people, person]
