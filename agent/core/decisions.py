"""The user's decisions and what each one changes. Pure: decisions in, effects out.

- ``snooze``: that person's findings (or one rule's) are hidden through ``until``.
- ``dismiss``: one rule's finding is hidden for this episode; it comes back when the situation
  starts anew (they write again, a new last contact, next year's birthday): the episode is
  the metric a rule's finding hangs on, recorded when the user dismissed it (EPISODE).
- ``log``: a contact mail and calendars cannot see (a call, a coffee); it counts as a meeting.
- ``forget``: not a relationship; the addresses are never a person again.
- ``merge``: the second person's addresses belong to the first.
- ``tag`` / ``untag`` and ``cadence``: as in [[people]], for someone the config does not name.

Precedence: [[people]] in the config, then decisions, then the address book, then mail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from agent.config.durations import parse_duration
from agent.core.interactions import MeetingRecord
from agent.core.model import Decision, Effects
from agent.core.person import PersonReport
from rules.findings import Finding

ACTIONS = ("snooze", "dismiss", "log", "forget", "merge", "tag", "untag", "cadence")
LOG_KINDS = ("call", "meeting", "message", "other")
# The metric whose value is a finding's episode; other rules hang on the last contact, so a
# dismissed owed reply comes back when they write again, a fading tie when it recovered and
# went quiet anew.
EPISODE = {
    "follow-up": "first_contact",
    "birthday": "next_birthday",
    "anniversary": "next_anniversary",
}
LOG_KEY = "log:"  # the meeting key prefix of a logged contact


def effects(decisions: Iterable[Decision]) -> Effects:
    """Later decisions win: a tag after an untag is back."""
    out = Effects()
    for d in decisions:
        if d.action == "forget":
            out.forgotten[d.person] = d
        elif d.action == "merge" and d.value:
            out.merges.append((d.person, d.value))
            if d.note:
                out.names.setdefault(d.person, d.note)
        elif d.action == "tag" and d.value:
            out.tags.setdefault(d.person, []).append(d.value)
            out.untags.get(d.person, set()).discard(d.value)
        elif d.action == "untag" and d.value:
            out.untags.setdefault(d.person, set()).add(d.value)
        elif d.action == "cadence" and d.value:
            out.cadence[d.person] = parse_duration(d.value)
    return out


def episode(rule: str, stats: Mapping[str, Any]) -> str:
    """The value a finding of ``rule`` hangs on, as text ("" when there is none)."""
    value = stats.get(EPISODE.get(rule, "last_contact"))
    return "" if value is None else str(value)


def hidden(finding: Finding, stats: Mapping[str, Any], decisions: Sequence[Decision],
           today: date) -> str | None:  # fmt: skip
    """Why a finding is not shown ("snoozed", "dismissed"), or None."""
    emails = set(finding.person.emails)
    for d in decisions:
        if d.person not in emails or (d.rule is not None and d.rule != finding.rule):
            continue
        if d.action == "snooze" and d.until is not None and today <= d.until:
            return "snoozed"
        if d.action == "dismiss" and d.value == episode(finding.rule, stats):
            return "dismissed"
    return None


def apply(
    findings: Sequence[Finding],
    reports: Sequence[PersonReport],
    decisions: Sequence[Decision],
    today: date,
) -> tuple[list[Finding], dict[str, int]]:
    """The findings still shown, and how many each kind of decision hid."""
    stats = {r.person.id: r.stats for r in reports}
    relevant = [d for d in decisions if d.action in ("snooze", "dismiss")]
    kept: list[Finding] = []
    counts: dict[str, int] = {}
    for finding in findings:
        why = (
            hidden(finding, stats.get(finding.person.id, {}), relevant, today) if relevant else None
        )
        if why is None:
            kept.append(finding)
        else:
            counts[why] = counts.get(why, 0) + 1
    return kept, counts


BACK_DAYS = 7  # a weekly digest mentions an ended snooze once


def back_from_snooze(
    reports: Sequence[PersonReport], decisions: Sequence[Decision], today: date
) -> list[str]:
    """Names of people whose snooze ended in the last BACK_DAYS and that no other snooze still
    hides: the digest says they are back, once."""
    ended = {d.person for d in decisions if d.action == "snooze" and d.until is not None
             and today - timedelta(days=BACK_DAYS) <= d.until < today}  # fmt: skip
    still = {d.person for d in decisions
             if d.action == "snooze" and d.until is not None and d.until >= today}  # fmt: skip
    names = []
    for report in reports:
        emails = set(report.person.emails)
        if emails & ended and not emails & still:
            names.append(report.person.name)
    return sorted(names)


def logged_meetings(
    decisions: Iterable[Decision], me: str, tz: tzinfo, until: datetime
) -> list[MeetingRecord]:
    """Logged contacts as meetings with me, at noon of their day in my time zone."""
    out = []
    for d in decisions:
        if d.action != "log" or d.day is None:
            continue
        start = datetime.combine(d.day, time(12), tzinfo=tz).astimezone(UTC)
        if start > until:
            continue
        attendees = ((d.person, "", "ACCEPTED"), (me, "", "ACCEPTED"))
        out.append(MeetingRecord(f"{LOG_KEY}{d.id}", start, None, "CONFIRMED", attendees))
    return out
