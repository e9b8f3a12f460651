"""Per-person metrics as of a moment: pure functions of interactions and an injected clock.

Names, units and meanings are documented in agent/core/metrics.py. Days are calendar days in the
user's time zone, so "silence_days" means what the user expects on their own calendar.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from agent.core.interactions import ME, Coverage, Interaction
from agent.core.rhythm import rhythm_words

RECENT_DAYS = 90
RATE_DAYS = 30  # rates are per this many days: about a month
# An answer to a thread counts if it could be in the archive: mail in that direction on at
# least ANSWER_MIN_DAYS days within ANSWER_DAYS of the thread's start. A stray message weeks
# later does not show that the archive kept that stretch's mail (Enron: sent mail for months
# with a few incoming strays); two days in two weeks still holds for a light correspondent
# (the bundled sample's owner writes on about two days a fortnight).
ANSWER_DAYS = 14
ANSWER_MIN_DAYS = 2
SILENCE_WINDOW = 30
# Contact days this close together are one episode (her mail, my answer the next day): the
# rhythm a person would name is between episodes, not between days.
EPISODE_DAYS = 3


def compute_stats(
    items: Sequence[Interaction],
    starters: dict[str, str],
    person: str,
    as_of: datetime,
    tz: tzinfo,
    cadence: timedelta | None = None,
    *,
    tied: bool = True,
    coverage: Coverage | None = None,
    thread_starts: dict[str, datetime] | None = None,
) -> dict[str, Any]:
    """Metrics for one person from their interactions (sorted by time, up to ``as_of``).

    ``coverage`` says where the archive holds mail in each direction (None: everywhere);
    ``thread_starts`` when each thread began; ``tied``: a personal tie (interactions.Derived).
    """
    today = as_of.astimezone(tz).date()
    past = [i for i in items if i.when <= as_of]
    personal = [i for i in past if not (i.group or i.mass)]
    days = sorted({_day(i.when, tz) for i in personal})
    seen = _Seen(coverage, thread_starts or {})
    stats: dict[str, Any] = {"personal_tie": tied}
    stats.update(_counts(past, personal))
    stats.update(_threads(personal, [i for i in past if not i.mass], starters, person, seen))
    stats.update(_dates(personal, days, today, tz))
    stats.update(_gaps(days, stats["silence_days"]))
    stats.update(_rhythm(days))
    stats.update(_trend(personal, days, as_of, today))
    stats.update(_reply_owed(personal, today, tz, seen))
    stats.update(_first_contact(personal, days, tz))
    stats.update(_cadence(cadence, stats["silence_days"]))
    stats["silence_coverage"] = seen.silence(days[-1], today) if days else None
    return stats


class _Seen:
    """Whether the archive could have shown mail in a direction at a time."""

    def __init__(self, coverage: Coverage | None, starts: dict[str, datetime]) -> None:
        self.coverage = coverage
        self.starts = starts

    def after(self, direction: str, start: date, days: int, at_least: int = 1) -> bool:
        if self.coverage is None:
            return True
        return self.coverage.has(direction, start, start + timedelta(days=days), at_least)

    def answerable(self, thread: str, direction: str) -> bool:
        start = self.starts.get(thread)
        if start is None:
            return True
        return self.after(direction, start.date(), ANSWER_DAYS, ANSWER_MIN_DAYS)

    def silence(self, last: date, today: date) -> float | None:
        """How well the archive covers a silence: the share of its 30-day stretches holding
        mail from me (I could have written and did not), and 0 when it holds no mail to me
        at all since (the other side is missing: an answer could have gone unrecorded)."""
        if self.coverage is None:
            return 1.0
        if (today - last).days >= SILENCE_WINDOW and not self.after(
            "in", last, (today - last).days
        ):
            return 0.0
        return self.coverage.share("out", last, today)


def _day(when: datetime, tz: tzinfo) -> date:
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
        "group_emails": len({i.key for i in past if i.group and not i.mass}),  # mass apart
    }


def _threads(
    personal: Sequence[Interaction],
    answers: Sequence[Interaction],
    starters: dict[str, str],
    person: str,
    seen: _Seen,
) -> dict[str, Any]:
    """Threads are personal conversations; an answer in one may go to a few more people (a
    reply that Cc's the team still answers me), so ``answers`` holds group mail too."""
    kinds: dict[str, set[str]] = {}
    for i in personal:
        if i.thread is not None:
            kinds.setdefault(i.thread, set()).add(i.kind)
    for i in answers:
        if i.thread in kinds:
            kinds[i.thread].add(i.kind)
    mine = [t for t in kinds if starters.get(t) == ME]
    theirs = [t for t in kinds if starters.get(t) == person]
    started = len(mine) + len(theirs)
    # Reply rates only over threads whose answer the archive could hold: my threads where it
    # has mail to me afterwards, theirs where it has mail from me.
    mine_seen = [t for t in mine if seen.answerable(t, "in")]
    theirs_seen = [t for t in theirs if seen.answerable(t, "out")]
    return {
        "threads": len(kinds),
        "threads_started_by_me": len(mine),
        "threads_started_by_them": len(theirs),
        "reciprocity_threads": len(mine_seen) + len(theirs_seen),
        "started_by_me_share": _ratio(len(mine), started),
        "their_reply_rate": _ratio(sum(1 for t in mine_seen if "in" in kinds[t]), len(mine_seen)),
        "my_reply_rate": _ratio(sum(1 for t in theirs_seen if "out" in kinds[t]), len(theirs_seen)),
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _dates(
    personal: Sequence[Interaction], days: list[date], today: date, tz: tzinfo
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


def _rhythm(days: list[date]) -> dict[str, Any]:
    """The usual time between conversations: contact days within EPISODE_DAYS of each other
    are one episode, and the median gap between episode starts is the rhythm."""
    starts: list[date] = []
    previous: date | None = None
    for day in days:
        if previous is None or (day - previous).days > EPISODE_DAYS:
            starts.append(day)
        previous = day
    gaps = [(b - a).days for a, b in itertools.pairwise(starts)]
    rhythm = round(float(statistics.median(gaps)), 1) if gaps else None
    return {"episodes": len(starts), "rhythm_days": rhythm, "rhythm": rhythm_words(rhythm)}


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
    recent_rate = recent / RECENT_DAYS * RATE_DAYS
    earlier_rate: float | None = None
    if days and earlier:
        span = max((today - timedelta(days=RECENT_DAYS) - days[0]).days, 1)
        earlier_rate = earlier / span * RATE_DAYS
    trend = recent_rate / earlier_rate if earlier_rate else None
    return {
        "interactions_90d": recent,
        "recent_rate": round(recent_rate, 2),
        "earlier_rate": round(earlier_rate, 2) if earlier_rate is not None else None,
        "trend": round(trend, 2) if trend is not None else None,
    }


def _reply_owed(
    personal: Sequence[Interaction], today: date, tz: tzinfo, seen: _Seen
) -> dict[str, Any]:
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
    # Owed only where the archive holds my mail after it: without my Sent mail for that time,
    # an answer could be there and we would not know.
    since = _day(waiting.when, tz) if waiting is not None else today
    if waiting is None or not seen.after("out", since, max((today - since).days, 0)):
        return {"reply_owed": False, "reply_owed_days": None, "reply_owed_since": None}
    return {
        "reply_owed": True,
        "reply_owed_days": (today - since).days,
        "reply_owed_since": since.isoformat(),
    }


def _first_contact(personal: Sequence[Interaction], days: list[date], tz: tzinfo) -> dict[str, Any]:
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
