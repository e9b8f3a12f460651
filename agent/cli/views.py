"""Terminal views of people: the `agent people` table and the `agent person` page."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent.cli.textwidth import pad, terminal_columns, width, wrap
from agent.core.decisions import LOG_KEY
from agent.core.interactions import Interaction
from agent.core.metrics import METRICS
from agent.core.model import Decision
from agent.core.person import PersonReport
from agent.errors import UserError
from agent.i18n import N_

HISTORY_LINES = 15
KIND_LABELS = {"out": "you wrote", "in": "they wrote", "meeting": "met"}

# Headers are gettext msgids: the table speaks [me] language.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", N_("id")),
    ("name", N_("name")),
    ("email", N_("email")),
    ("emails_sent", N_("sent")),
    ("emails_received", N_("recv")),
    ("meetings", N_("met")),
    ("last_contact", N_("last")),
    ("silence_days", N_("silent")),
    ("gap_p90_days", N_("gap90")),
    ("started_by_me_share", N_("you start")),
    ("reply_owed_days", N_("owed")),
    ("next_occasion", N_("occasion")),  # the next birthday or anniversary (address books)
)
# `agent people --sort`: key, and whether the largest comes first.
SORTS: dict[str, tuple[str, bool]] = {
    "last": ("last_contact", True),
    "name": ("name", False),
    "silent": ("silence_days", True),
    "sent": ("emails_sent", True),
    "received": ("emails_received", True),
    "owed": ("reply_owed_days", True),
}


def sort_people(
    reports: Sequence[PersonReport], by: str = "last", limit: int | None = None
) -> list[PersonReport]:
    """People in ``--sort`` order (missing values last), at most ``limit`` of them."""
    key, descending = SORTS[by]

    def value(r: PersonReport) -> tuple[bool, Any]:
        v = fold(r.person.name) if key == "name" else r.stats.get(key)
        return (v is None, v if v is not None else 0)

    present = [r for r in reports if value(r)[0] is False]
    missing = [r for r in reports if value(r)[0] is True]
    present.sort(key=lambda r: value(r)[1], reverse=descending)
    ordered = present + sorted(missing, key=lambda r: fold(r.person.name))
    return ordered[:limit] if limit is not None else ordered


# Columns that give way first when the table is wider than the terminal, and how narrow.
SHRINKABLE = {"name": 10, "email": 8}
MAX_CELL = 32
GAP = "  "


def people_table(
    reports: Sequence[PersonReport],
    columns: int | None = None,
    translate: Callable[[str], str] = str,
    ordered: bool = False,
) -> str:
    """A table that fits the terminal (``columns``, default $COLUMNS or its width), one
    person per line, most recently in touch first unless ``ordered`` (already sorted).
    Widths are measured as the terminal shows them (wide CJK and emoji, combining marks);
    what is cut ends in an ellipsis."""
    if not reports:
        return "no people yet: run `agent sync` first"
    rows_in = list(reports) if ordered else sort_people(reports)
    rows = [[translate(h) for _, h in COLUMNS]] + [_row(r) for r in rows_in]
    widths = [min(max(width(row[i]) for row in rows), MAX_CELL) for i in range(len(COLUMNS))]
    keep = _fitting(widths, columns or terminal_columns())
    if not any(_occasion(r) for r in rows_in):  # no address book dates: no column for them
        keep[-1] = False
    rows = [[cell for cell, kept in zip(row, keep, strict=True) if kept] for row in rows]
    widths = [w for w, kept in zip(widths, keep, strict=True) if kept]
    lines = [
        GAP.join(pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


# Columns left out, in this order, when narrowing names and addresses is not enough.
OPTIONAL = ("gap_p90_days", "meetings", "started_by_me_share", "next_occasion",
            "emails_received")  # fmt: skip


def _fitting(widths: list[int], columns: int) -> list[bool]:
    """Which columns to show so the table fits ``columns``: first optional columns go, then
    the email and name columns narrow; ``widths`` is narrowed in place."""
    keys = [key for key, _ in COLUMNS]
    keep = [True] * len(keys)

    def excess() -> int:
        shown = [w for w, k in zip(widths, keep, strict=True) if k]
        return sum(shown) + len(GAP) * (len(shown) - 1) - columns

    for key in OPTIONAL:
        if excess() <= 0:
            break
        keep[keys.index(key)] = False
    for key in ("email", "name"):
        index = keys.index(key)
        if excess() > 0:
            widths[index] = max(SHRINKABLE[key], widths[index] - excess())
    return keep


def _occasion(report: PersonReport) -> str | None:
    dates = [d for d in (report.stats.get("next_birthday"), report.stats.get("next_anniversary"))
             if d]  # fmt: skip
    return min(dates) if dates else None


def _row(report: PersonReport) -> list[str]:
    values = {
        "id": report.person.id,
        "name": report.person.name,
        "email": report.person.emails[0] if report.person.emails else "",
        "next_occasion": _occasion(report),
    }
    cells = []
    for key, _ in COLUMNS:
        value = values.get(key, report.stats.get(key))
        if key == "started_by_me_share" and isinstance(value, int | float):
            value = f"{value * 100:.0f}%"
        cells.append(_fmt(value))
    return cells


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def find_person(reports: Sequence[PersonReport], query: str) -> PersonReport:
    """By id, exact address, exact name, or part of the name/address; case and accents fold
    (``jurgen`` finds Jürgen). An exact match wins over partial ones; several matches are
    listed so the user can pick an id."""
    q = fold(query.strip())
    if q.isdigit():
        exact = [r for r in reports if r.person.id == int(q)]
        if exact:
            return exact[0]
    for matches in (
        [r for r in reports if q in (fold(e) for e in r.person.emails)],
        [r for r in reports if fold(r.person.name) == q],
        [r for r in reports
         if q in fold(r.person.name) or any(q in fold(e) for e in r.person.emails)],
    ):  # fmt: skip
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise _ambiguous(query, matches)
    raise UserError(f"nobody matches {query!r}; `agent people` lists everyone")


def fold(text: str) -> str:
    """Case- and accent-free: fold("Jürgen") == fold("JURGEN") == "jurgen"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _ambiguous(query: str, found: Sequence[PersonReport]) -> UserError:
    names = ", ".join(
        f"{r.person.name} <{r.person.emails[0]}> (id {r.person.id})" for r in found[:10]
    )
    more = f" and {len(found) - 10} more" if len(found) > 10 else ""
    return UserError(
        f"{len(found)} people match {query!r}: {names}{more}; be more specific or use an id"
    )


def person_view(
    report: PersonReport,
    history: Sequence[Interaction],
    outcomes: Sequence[Any],
    tz: ZoneInfo,
    fmt: str,
    as_of: datetime,
    decisions: Sequence[Decision] = (),
) -> str:
    if fmt == "json":
        data = report.to_json()
        data["merged"] = [{"email": e, "reason": r} for e, r in report.person.merged]
        data["history"] = [_history_json(i, tz) for i in history if i.when <= as_of]
        data["rules"] = [_outcome_json(o) for o in outcomes]
        data["decisions"] = [_decision_text(d) for d in decisions]
        data["timeline"] = [
            {"month": m, **counts} for m, counts in _months(history, tz, as_of).items()
        ]
        return json.dumps(data, indent=2, ensure_ascii=False, default=str)
    p = report.person
    lines = [f"{p.name} (id {p.id})", "  " + ", ".join(p.emails)]
    if p.tags:
        lines.append("  tags: " + ", ".join(p.tags))
    lines += [f"  merged: {email} ({reason})" for email, reason in p.merged]
    lines += _occasions(report.stats)
    lines += ["", "Metrics:"]
    lines += [f"  {m.name:<26} {_fmt(report.stats.get(m.name)):<12} {m.unit}" for m in METRICS]
    columns = terminal_columns()
    lines += ["", "Rules:"]
    for o in outcomes:
        lines += wrap(_outcome_text(o), columns, indent="  ", hanging="      ")
    if decisions:
        lines += ["", "Your decisions:"] + [f"  {_decision_text(d)}" for d in decisions]
    lines += ["", "The last 12 months (out: your mail, in: theirs, met: meetings and logged):"]
    lines += _timeline(history, tz, as_of)
    past = [i for i in history if i.when <= as_of]
    lines += ["", f"Latest interactions ({min(len(past), HISTORY_LINES)} of {len(past)}):"]
    lines += [f"  {_history_text(i, tz)}" for i in reversed(past[-HISTORY_LINES:])]
    return "\n".join(lines)


TIMELINE_MONTHS = 12
BAR = "█"
BAR_MAX = 12  # characters for the busiest month: the chart fits 80 columns


def _months(
    history: Sequence[Interaction], tz: ZoneInfo, as_of: datetime
) -> dict[str, dict[str, int]]:
    """Per month of the last TIMELINE_MONTHS: mail out, mail in, meetings, logged contacts."""
    end = as_of.astimezone(tz)
    keys = []
    year, month = end.year, end.month
    for _ in range(TIMELINE_MONTHS):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    months = {k: {"out": 0, "in": 0, "met": 0, "logged": 0} for k in reversed(keys)}
    for i in history:
        if i.when > as_of:
            continue
        key = f"{i.when.astimezone(tz):%Y-%m}"
        if key in months:
            kind = (
                "logged" if i.key.startswith(LOG_KEY) else "met" if i.kind == "meeting" else i.kind
            )
            months[key][kind] += 1
    return months


def _timeline(history: Sequence[Interaction], tz: ZoneInfo, as_of: datetime) -> list[str]:
    months = _months(history, tz, as_of)
    top = max((c["out"] + c["in"] + c["met"] + c["logged"] for c in months.values()), default=0)
    lines = []
    for month, c in months.items():
        total = c["out"] + c["in"] + c["met"] + c["logged"]
        bar = BAR * (round(total / top * BAR_MAX) if top else 0)
        if total and not bar:
            bar = BAR
        detail = f"out {c['out']}, in {c['in']}, met {c['met'] + c['logged']}" if total else ""
        lines.append(f"  {month}  {bar:<{BAR_MAX}}  {detail}".rstrip())
    return lines


def _decision_text(d: Decision) -> str:
    made = f"{d.made_at:%Y-%m-%d}" if d.made_at else ""
    parts = [f"#{d.id}", made, d.action]
    if d.rule:
        parts.append(f"({d.rule})")
    if d.action == "snooze" and d.until:
        parts.append(f"through {d.until.isoformat()}")
    elif d.action == "log" and d.day:
        parts.append(f"{d.value or ''} on {d.day.isoformat()}")
    elif d.value and d.action != "dismiss":
        parts.append(d.value)
    if d.note:
        parts.append(f"— {d.note}")
    return " ".join(p for p in parts if p)


def _occasions(stats: dict[str, Any]) -> list[str]:
    """The next birthday and anniversary, from the address book."""
    lines = []
    for label, when, days, count, unit in (
        ("birthday", "next_birthday", "next_birthday_days", "birthday_age", "turns"),
        ("anniversary", "next_anniversary", "next_anniversary_days", "anniversary_years", "years"),
    ):
        if stats.get(when):
            extra = (
                ""
                if stats.get(count) is None
                else (f", turns {stats[count]}" if unit == "turns" else f", {stats[count]} years")
            )
            lines.append(f"  next {label}: {stats[when]} (in {stats[days]} days{extra})")
    return lines


def _history_text(i: Interaction, tz: ZoneInfo) -> str:
    flags = " (mass mail)" if i.mass else ""
    return f"{i.when.astimezone(tz):%Y-%m-%d %H:%M}  {KIND_LABELS.get(i.kind, i.kind)}{flags}"


def _history_json(i: Interaction, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "when": i.when.astimezone(tz).isoformat(),
        "kind": i.kind,
        "mass": i.mass,
        "direct": i.direct,
    }


def _outcome_text(outcome: Any) -> str:
    describe = getattr(outcome, "describe", None)
    return str(describe()) if callable(describe) else str(outcome)


def _outcome_json(outcome: Any) -> Any:
    to_json = getattr(outcome, "to_json", None)
    return to_json() if callable(to_json) else str(outcome)
