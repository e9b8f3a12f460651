"""`agent people` and `agent person QUERY`: the network, and one person in depth."""

from __future__ import annotations

import json
from datetime import date

import click

from agent.cli.app import App
from agent.cli.commands.options import as_date, as_of_option, format_option
from agent.cli.views import SORTS, find_person, people_table, person_view, sort_people
from agent.core.person import PersonReport
from agent.core.pipeline import Network, load_network, load_reports
from agent.errors import UserError
from agent.i18n import translator
from agent.safe_text import for_terminal, json_for_terminal


@click.command()
@as_of_option
@format_option("table", "A table that fits the terminal, or JSON with every metric.")
@click.option("--sort", "sort", type=click.Choice(sorted(SORTS)), default=None,
              help="Order: last (contact; the table's default), name, silent, sent, "
              "received, owed.")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Show at most N people (after sorting).")  # fmt: skip
@click.option("--all", "everyone", is_flag=True,
              help="Also address book contacts you have never mailed or met.")  # fmt: skip
@click.pass_obj
def people(
    app: App, as_of: date | None, fmt: str, sort: str | None, limit: int | None, everyone: bool
) -> None:
    """Every person with their key metrics."""
    reports = load_reports(app.config, app.store(write=False), app.as_of(as_date(as_of)))
    if not everyone:
        reports = [r for r in reports if r.stats["interactions"] or r.stats["group_emails"]]
    if sort is not None or limit is not None or fmt == "table":
        reports = sort_people(reports, sort or "last", limit)
    if fmt == "json":
        text = json.dumps([r.to_json() for r in reports], indent=2, ensure_ascii=False)
        click.echo(json_for_terminal(text))
    else:
        _ = translator(app.config.me.language)
        click.echo(for_terminal(people_table(reports, translate=_, ordered=True)))


@click.command()
@click.argument("query")
@as_of_option
@format_option("text", "Text to read, or JSON with history, metrics and rules.")
@click.pass_obj
def person(app: App, query: str, as_of: date | None, fmt: str) -> None:
    """One person (id, address or part of the name): history, metrics, which rules fire and why."""
    moment = app.as_of(as_date(as_of))
    network = load_network(app.config, app.store(write=False), moment)
    try:
        report: PersonReport = find_person(network.reports, query)
    except UserError as exc:
        raise UserError(_not_a_person(app, network, query) or str(exc)) from None
    history = network.derived.by_person.get(network.canonical[report.person.id], [])
    outcomes = _explain(app, report)
    emails = set(report.person.emails)
    decided = [d for d in app.store(write=False).decisions() if d.person in emails]
    shown = person_view(report, history, outcomes, app.config.me.tz, fmt, moment, decided)
    click.echo(json_for_terminal(shown) if fmt == "json" else for_terminal(shown))


def _not_a_person(app: App, network: Network, query: str) -> str | None:
    """For an address the agent does not count as a person: why not, from its mail."""
    email = query.strip().lower()
    if "@" not in email:
        return None
    reason = network.identity.exclusion(email)
    counts = app.store(write=False).sender_reasons(email)
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
    from rules.loader import load_rules

    return list(explain(load_rules(app.config.rule_files), report))


COMMANDS = [people, person]
