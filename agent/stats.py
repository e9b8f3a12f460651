"""Per-person metrics as of a moment: pure functions of interactions and an injected clock.

Names, units and meanings are documented in agent/metrics.py. Days are calendar days in the
user's time zone, so "silence_days" means what the user expects on their own calendar.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.interactions import ME, Interaction

RECENT_DAYS = 90


def compute_stats(
    items: Sequence[Interaction],
    starters: dict[str, str],
    person: str,
    as_of: datetime,
    tz: ZoneInfo,
    cadence: timedelta | None = None,
) -> dict[str, Any]:
    """Metrics for one person from their interactions (sorted by time, up to ``as_of``)."""
    today = as_of.astimezone(tz).date()
    past = [i for i in items if i.when <= as_of]
    personal = [i for i in past if not i.mass]
    days = sorted({_day(i.when, tz) for i in personal})
    stats: dict[str, Any] = {}
    stats.update(_counts(past, personal))
    stats.update(_threads(personal, starters, person))
    stats.update(_dates(personal, days, today, tz))
    stats.update(_gaps(days, stats["silence_days"]))
    stats.update(_trend(personal, days, as_of, today))
    stats.update(_reply_owed(personal, today, tz))
    stats.update(_first_contact(personal, days, tz))
    stats.update(_cadence(cadence, stats["silence_days"]))
    return stats


def _day(when: datetime, tz: ZoneInfo) -> date:
    return when.astimezone(tz).date()


def _counts(past: Sequence[Interaction], personal: Sequence[Interaction]) -> dict[str, Any]:
    sent = sum(1 for i in personal if i.kind == "out")
    received = sum(1 for i in personal if i.kind == "in")
    meetings = sum(1 for i in personal if i.kind == "meeting")
    return {
        "emails_sent": sent,
        "emails_received": received,
        "meetings": meetings,
        "interactions": sent + received + meetings,
        "mass_emails": len({i.key for i in past if i.mass}),
    }


def _threads(
    personal: Sequence[Interaction], starters: dict[str, str], person: str
) -> dict[str, Any]:
    kinds: dict[str, set[str]] = {}
    for i in personal:
        if i.thread is not None:
            kinds.setdefault(i.thread, set()).add(i.kind)
    mine = [t for t in kinds if starters.get(t) == ME]
    theirs = [t for t in kinds if starters.get(t) == person]
    started = len(mine) + len(theirs)
    return {
        "threads": len(kinds),
        "threads_started_by_me": len(mine),
        "threads_started_by_them": len(theirs),
        "started_by_me_share": _ratio(len(mine), started),
        "their_reply_rate": _ratio(sum(1 for t in mine if "in" in kinds[t]), len(mine)),
        "my_reply_rate": _ratio(sum(1 for t in theirs if "out" in kinds[t]), len(theirs)),
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _dates(
    personal: Sequence[Interaction], days: list[date], today: date, tz: ZoneInfo
) -> dict[str, Any]:
    def last(kind: str) -> str | None:
        found = [i.when for i in personal if i.kind == kind]
        return _day(found[-1], tz).isoformat() if found else None

    return {
        "first_contact": days[0].isoformat() if days else None,
        "last_contact": days[-1].isoformat() if days else None,
        "last_sent": last("out"),
        "last_received": last("in"),
        "last_meeting": last("meeting"),
        "silence_days": (today - days[-1]).days if days else None,
        "days_since_first_contact": (today - days[0]).days if days else None,
        "contact_days": len(days),
    }


def _gaps(days: list[date], silence: int | None) -> dict[str, Any]:
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    if not gaps:
        return {
            "gap_median_days": None,
            "gap_p90_days": None,
            "gap_max_days": None,
            "silence_ratio": None,
        }
    p90 = _quantile(gaps, 0.9)
    return {
        "gap_median_days": round(float(statistics.median(gaps)), 1),
        "gap_p90_days": round(p90, 1),
        "gap_max_days": max(gaps),
        "silence_ratio": round(silence / p90, 2) if silence is not None and p90 > 0 else None,
    }


def _quantile(values: list[int], q: float) -> float:
    """Linear-interpolated quantile (numpy's default), exact for small samples."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (pos - low))


def _trend(
    personal: Sequence[Interaction], days: list[date], as_of: datetime, today: date
) -> dict[str, Any]:
    cutoff = as_of - timedelta(days=RECENT_DAYS)
    recent = sum(1 for i in personal if i.when > cutoff)
    earlier = len(personal) - recent
    recent_rate = recent / RECENT_DAYS * 30
    earlier_rate: float | None = None
    if days and earlier:
        span = max((today - timedelta(days=RECENT_DAYS) - days[0]).days, 1)
        earlier_rate = earlier / span * 30
    trend = recent_rate / earlier_rate if earlier_rate else None
    return {
        "interactions_90d": recent,
        "recent_rate": round(recent_rate, 2),
        "earlier_rate": round(earlier_rate, 2) if earlier_rate is not None else None,
        "trend": round(trend, 2) if trend is not None else None,
    }


def _reply_owed(personal: Sequence[Interaction], today: date, tz: ZoneInfo) -> dict[str, Any]:
    """The first direct message of theirs since I last wrote or met them, not itself an answer
    to me: the reply is owed since then, however many messages followed it.

    A reply to my own message usually closes a loop ("thanks!"); a fresh direct message or a
    follow-up to their own is what waits on me.
    """
    waiting: Interaction | None = None
    for i in personal:
        if i.kind == "in" and i.direct and not i.answers_me:
            waiting = waiting or i
        elif i.kind in ("out", "meeting"):
            waiting = None
    if waiting is None:
        return {"reply_owed": False, "reply_owed_days": None, "reply_owed_since": None}
    since = _day(waiting.when, tz)
    return {
        "reply_owed": True,
        "reply_owed_days": (today - since).days,
        "reply_owed_since": since.isoformat(),
    }


def _first_contact(
    personal: Sequence[Interaction], days: list[date], tz: ZoneInfo
) -> dict[str, Any]:
    if not personal:
        return {"first_contact_meeting": False, "interactions_after_first": 0}
    first_day = days[0]
    on_first = [i for i in personal if _day(i.when, tz) == first_day]
    return {
        "first_contact_meeting": any(i.kind == "meeting" for i in on_first),
        "interactions_after_first": len(personal) - len(on_first),
    }


def _cadence(cadence: timedelta | None, silence: int | None) -> dict[str, Any]:
    if cadence is None:
        return {"cadence_days": None, "overdue_days": None}
    days = cadence.days + (1 if cadence.seconds else 0)
    overdue = max(silence - days, 0) if silence is not None else None
    return {"cadence_days": days, "overdue_days": overdue}
