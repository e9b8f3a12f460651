"""Telling the agent what it cannot see: snooze, dismiss, log, forget, merge, tag, cadence, and
`agent decisions` to list, undo, export and import them (agent/core/decisions.py says what
each one changes). A person is any QUERY `agent person` accepts."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from agent.cli.app import App
from agent.cli.commands.options import Day
from agent.cli.views import find_person
from agent.config.durations import parse_duration
from agent.core.decisions import ACTIONS, LOG_KINDS, episode
from agent.core.model import Decision
from agent.core.person import PersonReport
from agent.errors import UserError
from agent.safe_text import for_terminal, json_for_terminal

MAX_NOTE = 2000


def _person(app: App, query: str) -> tuple[str, PersonReport]:
    """The person a QUERY names, as their first address (what decisions keep) and report."""
    from agent.core.pipeline import load_network

    network = load_network(app.config, app.store(), app.as_of(None))
    report = find_person(network.reports, query)
    return network.canonical[report.person.id], report


def _rule(app: App, rule: str | None) -> str | None:
    if rule is None:
        return None
    from rules.loader import load_rules

    ids = load_rules(app.config.rule_files).ids
    if rule not in ids:
        raise UserError(f"no rule {rule!r} (rules: {', '.join(ids)})")
    return rule


def _save(app: App, decision: Decision, said: str) -> None:
    number = app.store().add_decision(decision)
    click.echo(for_terminal(f"{said} (decision {number}; `agent decisions --undo {number}`)"))


@click.command()
@click.argument("query")
@click.option("--rule", metavar="ID", help="Only this rule's findings.")
@click.option("--for", "length", metavar="DURATION", help="How long: 3d, 2w, 12w.")
@click.option("--until", "until", type=Day(), metavar="DATE", help="Through this day.")
@click.pass_obj
def snooze(app: App, query: str, rule: str | None, length: str | None, until: date | None) -> None:
    """Hide a person's findings (or one rule's) for a while."""
    today = app.as_of(None).date()
    if (length is None) == (until is None):
        raise UserError("give --for DURATION or --until DATE")
    if length is not None:
        try:
            until = today + timedelta(days=max(1, parse_duration(length).days))
        except ValueError as exc:
            raise UserError(f"--for: {exc}") from None
    assert until is not None
    if until < today:
        raise UserError(f"--until {until.isoformat()} is in the past")
    person, report = _person(app, query)
    chosen = _rule(app, rule)
    what = f"{chosen} for {report.person.name}" if chosen else report.person.name
    _save(app, Decision("snooze", person, rule=chosen, until=until),
          f"snoozed {what} through {until.isoformat()}")  # fmt: skip


@click.command()
@click.argument("query")
@click.option("--rule", metavar="ID", required=True, help="The rule whose finding goes.")
@click.pass_obj
def dismiss(app: App, query: str, rule: str) -> None:
    """Drop a finding until its situation starts anew (a new owed message, a new silence)."""
    person, report = _person(app, query)
    chosen = _rule(app, rule)
    assert chosen is not None
    now = episode(chosen, report.stats)
    _save(app, Decision("dismiss", person, rule=chosen, value=now),
          f"dismissed {chosen} for {report.person.name}")  # fmt: skip


@click.command("log")
@click.argument("query")
@click.option("--kind", type=click.Choice(LOG_KINDS), default="other", show_default=True,
              help="What kind of contact it was.")  # fmt: skip
@click.option("--date", "day", type=Day(), metavar="DATE", help="When (default: today).")
@click.option("--note", metavar="TEXT", help="Your own words; they stay on this machine.")
@click.pass_obj
def log_contact(app: App, query: str, kind: str, day: date | None, note: str | None) -> None:
    """A contact mail and calendars cannot see (a call, a coffee); it counts as a meeting."""
    when = day or app.as_of(None).date()
    if when > app.as_of(None).date():
        raise UserError(f"--date {when.isoformat()} is in the future")
    person, report = _person(app, query)
    _save(app, Decision("log", person, value=kind, day=when, note=_note(note)),
          f"logged a {kind} with {report.person.name} on {when.isoformat()}")  # fmt: skip


@click.command()
@click.argument("query")
@click.option("--reason", metavar="TEXT", help="Why (a shop, an old address); kept.")
@click.pass_obj
def forget(app: App, query: str, reason: str | None) -> None:
    """Not a relationship: never shown again (`agent decisions --undo` brings them back)."""
    person, report = _person(app, query)
    _save(app, Decision("forget", person, note=_note(reason)),
          f"forgot {report.person.name} <{person}>")  # fmt: skip


@click.command()
@click.argument("query")
@click.argument("other")
@click.pass_obj
def merge(app: App, query: str, other: str) -> None:
    """One person: OTHER's addresses belong to QUERY's."""
    person, report = _person(app, query)
    second, second_report = _person(app, other)
    if second == person:
        raise UserError(f"{query!r} and {other!r} are already one person")
    # The first person's name stays: the note keeps it as it was shown when merging.
    _save(app, Decision("merge", person, value=second, note=report.person.name),
          f"merged {second_report.person.name} into {report.person.name}")  # fmt: skip


@click.command()
@click.argument("query")
@click.argument("tag")
@click.option("--remove", is_flag=True, help="Take the tag away.")
@click.pass_obj
def tag(app: App, query: str, tag: str, remove: bool) -> None:
    """Tag a person (for [cadence] and rules), or untag them."""
    person, report = _person(app, query)
    name = tag.strip().lower()
    if not name or any(c in name for c in ",\n"):
        raise UserError(f"{tag!r} is not a tag")
    action = "untag" if remove else "tag"
    said = f"{'untagged' if remove else 'tagged'} {report.person.name}: {name}"
    _save(app, Decision(action, person, value=name), said)


@click.command()
@click.argument("query")
@click.argument("duration")
@click.pass_obj
def cadence(app: App, query: str, duration: str) -> None:
    """A keep-in-touch target for a person (30d, 6w), as [[people]] cadence sets."""
    try:
        parse_duration(duration)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    person, report = _person(app, query)
    _save(app, Decision("cadence", person, value=duration.strip()),
          f"{report.person.name}: keep in touch every {duration.strip()}")  # fmt: skip


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="A table, or JSON (what --export writes).")  # fmt: skip
@click.option("--undo", "undo", type=int, metavar="ID", help="Take decision ID back.")
@click.option("--export", "export", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Write every decision to FILE (JSON).")  # fmt: skip
@click.option("--import", "import_", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="FILE", help="Take decisions back from FILE (JSON or TOML).")  # fmt: skip
@click.pass_obj
def decisions(
    app: App, fmt: str, undo: int | None, export: Path | None, import_: Path | None
) -> None:
    """Your decisions about people, in force; undo one, export or import them."""
    store = app.store()
    if undo is not None:
        if not store.undo_decision(undo):
            raise UserError(f"no decision {undo} in force (`agent decisions` lists them)")
        click.echo(f"decision {undo} undone")
        return
    if import_ is not None:
        found = _read(import_)
        for decision in found:
            store.add_decision(decision)
        click.echo(f"imported {len(found)} decisions from {import_}")
        return
    rows = [_json(d) for d in store.decisions()]
    text = json.dumps(rows, indent=2, ensure_ascii=False)
    if export is not None:
        try:
            export.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {export}: {exc.strerror}") from None
        click.echo(f"wrote {len(rows)} decisions to {export}")
    elif fmt == "json":
        click.echo(json_for_terminal(text))
    else:
        click.echo(for_terminal(_table(rows)) if rows else "no decisions yet")


def _json(d: Decision) -> dict[str, Any]:
    return {
        "id": d.id, "action": d.action, "person": d.person, "rule": d.rule,
        "until": d.until.isoformat() if d.until else None, "value": d.value, "note": d.note,
        "day": d.day.isoformat() if d.day else None,
        "made_at": d.made_at.isoformat() if d.made_at else None, "origin": d.origin,
    }  # fmt: skip


def _table(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        extra = " ".join(str(r[k]) for k in ("rule", "until", "value", "day") if r[k])
        made = (r["made_at"] or "")[:10]
        lines.append(f"{r['id']:>4}  {made}  {r['action']:<8} {r['person']}  {extra}".rstrip())
    return "\n".join(lines)


def _read(path: Path) -> list[Decision]:
    """Decisions from an export (JSON) or a hand-written TOML file ([[decisions]] tables)."""
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = tomllib.loads(text)["decisions"] if path.suffix == ".toml" else json.loads(text)
    except (ValueError, KeyError, TypeError) as exc:  # not UTF-8, not JSON or TOML, no list
        raise UserError(f"{path}: not a decisions file ({exc})"[:300]) from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a list of decisions")
    return [_decision(path, n, item) for n, item in enumerate(data, 1)]


def _decision(path: Path, n: int, item: Any) -> Decision:
    where = f"{path}: decision {n}"
    if (
        not isinstance(item, dict)
        or item.get("action") not in ACTIONS
        or "@" not in str(item.get("person", ""))
    ):
        raise UserError(f"{where}: needs an action ({', '.join(ACTIONS)}) and a person's address")
    try:
        return Decision(
            action=item["action"], person=str(item["person"]).lower(), rule=item.get("rule"),
            until=_day(item.get("until")), value=item.get("value"), note=_note(item.get("note")),
            day=_day(item.get("day")), made_at=_when(item.get("made_at")), origin="import",
        )  # fmt: skip
    except ValueError as exc:
        raise UserError(f"{where}: {exc}") from None


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _note(text: str | None) -> str | None:
    if text is None:
        return None
    return text.strip()[:MAX_NOTE] or None


COMMANDS: list[click.Command] = [snooze, dismiss, log_contact, forget, merge, tag, cadence,
                                 decisions]  # fmt: skip
