"""The dates that matter, from address books: the next birthday and anniversary as of a day.

Pure. A year-less date (``--MM-DD``, Apple's X-APPLE-OMIT-YEAR) has a next day but no age; a
birthday on 29 February falls on 28 February in common years, the day most people keep.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from agent.core.identity import Profile
from agent.core.model import PartialDate
from agent.i18n import N_

# Notes for a finding's message, as gettext msgids: the rules engine fills in the number in
# the digest's language (rules/engine.py, NOTES).
TURNS = N_(" (turns {n})")
YEARS = N_(" ({n} years)")


def occasion_stats(profile: Profile | None, today: date) -> dict[str, Any]:
    """The occasion metrics (agent/core/metrics.py) of one person."""
    birthday = _next(profile.birthday if profile else None, today)
    anniversary = _next(profile.anniversary if profile else None, today)
    return {
        "next_birthday": birthday[0].isoformat() if birthday else None,
        "next_birthday_days": birthday[1] if birthday else None,
        "birthday_age": birthday[2] if birthday else None,
        "birthday_note": _note(TURNS, birthday[2] if birthday else None),
        "next_anniversary": anniversary[0].isoformat() if anniversary else None,
        "next_anniversary_days": anniversary[1] if anniversary else None,
        "anniversary_years": anniversary[2] if anniversary else None,
        "anniversary_note": _note(YEARS, anniversary[2] if anniversary else None),
    }


def _note(template: str, count: int | None) -> str:
    return template.format(n=count) if count is not None else ""


def _next(when: PartialDate | None, today: date) -> tuple[date, int, int | None] | None:
    if when is None:
        return None
    for year in (today.year, today.year + 1):
        day = _on(when, year)
        if day >= today:
            count = year - when.year if when.year is not None and year > when.year else None
            return day, (day - today).days, count
    return None  # unreachable: next year's date is always ahead


def _on(when: PartialDate, year: int) -> date:
    if when.month == 2 and when.day == 29 and not _leap(year):
        return date(year, 2, 28)
    return date(year, when.month, when.day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
