"""The digest schedule: parsing, slots, periods, and daylight saving time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.config.schedule import ScheduleSpec, parse_schedule

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "weekday", "at"),
    [
        ("monday 08:00", 0, time(8, 0)),
        ("Mon 8:05", 0, time(8, 5)),
        ("  sunday   23:59 ", 6, time(23, 59)),
        ("fri 00:00", 4, time(0, 0)),
        ("daily 07:30", None, time(7, 30)),
        ("everyday 07:30", None, time(7, 30)),
    ],
)
def test_parse(text: str, weekday: int | None, at: time) -> None:
    spec = parse_schedule(text)
    assert (spec.weekday, spec.at) == (weekday, at)
    assert parse_schedule(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("monday", "is not a schedule like"),
        ("08:00", "is not a schedule like"),
        ("monday 8am", "is not a schedule like"),
        ("monday 24:00", "is not a time of day"),
        ("monday 08:60", "is not a time of day"),
        ("mo 08:00", "is not a weekday or 'daily'"),
        ("weekly 08:00", "is not a weekday or 'daily'"),
        (5, "is not a schedule like"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(text)


def test_weekly_slots_and_periods() -> None:
    spec = parse_schedule("monday 08:00")
    before = datetime(2026, 11, 23, 7, 59, tzinfo=BERLIN)  # a Monday, a minute early
    assert spec.last_slot(before) == datetime(2026, 11, 16, 8, 0, tzinfo=BERLIN)
    assert spec.next_slot(before) == datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)
    on_time = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)
    assert spec.last_slot(on_time) == on_time
    assert spec.period_id(spec.last_slot(on_time)) == "2026-W48"
    assert spec.period_id(spec.last_slot(before)) == "2026-W47"
    sunday = datetime(2026, 11, 29, 22, 0, tzinfo=BERLIN)
    assert spec.last_slot(sunday) == on_time


def test_daily_slots_and_periods() -> None:
    spec = parse_schedule("daily 07:30")
    now = datetime(2026, 1, 1, 7, 0, tzinfo=BERLIN)
    assert spec.last_slot(now) == datetime(2025, 12, 31, 7, 30, tzinfo=BERLIN)
    assert spec.period_id(spec.last_slot(now)) == "2025-12-31"
    assert spec.next_slot(now) == datetime(2026, 1, 1, 7, 30, tzinfo=BERLIN)


def test_iso_week_period_at_the_year_boundary() -> None:
    spec = parse_schedule("monday 08:00")
    assert spec.period_id(datetime(2024, 12, 30, 8, 0, tzinfo=BERLIN)) == "2025-W01"


def test_slots_keep_local_time_across_dst() -> None:
    spec = parse_schedule("sunday 08:00")
    # Berlin leaves summer time on 2026-10-25 (a Sunday), 03:00 -> 02:00.
    after = datetime(2026, 10, 25, 12, 0, tzinfo=BERLIN)
    slot = spec.last_slot(after)
    assert slot == datetime(2026, 10, 25, 8, 0, tzinfo=BERLIN)
    assert slot.utcoffset() == timedelta(hours=1)
    previous = spec.last_slot(slot - timedelta(minutes=1))
    assert (previous.hour, previous.utcoffset()) == (8, timedelta(hours=2))


def test_every_instant_is_in_exactly_one_period() -> None:
    spec = ScheduleSpec(weekday=2, at=time(9, 0))
    now = datetime(2026, 3, 1, 0, 0, tzinfo=BERLIN)
    periods = set()
    for hour in range(0, 24 * 21, 5):
        t = now + timedelta(hours=hour)
        slot = spec.last_slot(t)
        assert slot <= t < spec.next_slot(t)
        periods.add(spec.period_id(slot))
    assert len(periods) in (3, 4)
