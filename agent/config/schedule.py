"""The digest schedule, `[digest] every`: "monday 08:00" (weekly) or "daily 07:30".

A schedule divides time into periods; the digest is due once per period, at the slot time.
Pure functions of a zone-aware ``now``, so the daemon's exactly-once logic is testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PATTERN = re.compile(r"^\s*([a-z]+)\s+(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class ScheduleSpec:
    """``weekday`` is 0-6 (Monday=0) for a weekly digest, None for a daily one."""

    weekday: int | None
    at: time

    def __str__(self) -> str:
        day = "daily" if self.weekday is None else WEEKDAYS[self.weekday]
        return f"{day} {self.at:%H:%M}"

    def last_slot(self, now: datetime) -> datetime:
        """The most recent slot at or before ``now`` (same tzinfo as ``now``)."""
        slot = datetime.combine(now.date(), self.at, tzinfo=now.tzinfo)
        if self.weekday is not None:
            slot -= timedelta(days=(now.weekday() - self.weekday) % 7)
        step = timedelta(days=1 if self.weekday is None else 7)
        while slot > now:
            slot -= step
        return slot

    def next_slot(self, now: datetime) -> datetime:
        step = timedelta(days=1 if self.weekday is None else 7)
        return self.last_slot(now) + step

    def period_id(self, slot: datetime) -> str:
        """A stable name for the period a slot opens: '2026-W47' or '2026-11-23'."""
        if self.weekday is None:
            return slot.date().isoformat()
        year, week, _ = slot.isocalendar()
        return f"{year}-W{week:02d}"


def parse_schedule(text: str) -> ScheduleSpec:
    """Parse "monday 08:00" or "daily 08:00". Raises ValueError with a readable message."""
    match = _PATTERN.match(text.lower()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not a schedule like 'monday 08:00' or 'daily 08:00'")
    day, hour, minute = match.group(1), int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r}: {hour:02d}:{minute:02d} is not a time of day")
    if day in ("daily", "day", "everyday"):
        return ScheduleSpec(weekday=None, at=time(hour, minute))
    for index, name in enumerate(WEEKDAYS):
        if name.startswith(day) and len(day) >= 3:
            return ScheduleSpec(weekday=index, at=time(hour, minute))
    raise ValueError(f"{text!r}: {day!r} is not a weekday or 'daily'")
