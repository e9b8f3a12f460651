"""Per-person metrics on crafted interaction histories (pure, clock injected)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.core.interactions import ME, Interaction
from agent.core.metrics import METRIC_NAMES
from agent.core.stats import compute_stats

TZ = ZoneInfo("Europe/Berlin")
AS_OF = datetime(2026, 11, 20, 23, 59, tzinfo=TZ)
P = "bob@x.org"


def at(days_ago: float) -> datetime:
    return (AS_OF - timedelta(days=days_ago)).replace(hour=12).astimezone(UTC)


def item(days_ago: float, kind: str, thread: str | None = None, **kw: object) -> Interaction:
    return Interaction(P, at(days_ago), kind, f"k{days_ago}{kind}", thread, **kw)  # type: ignore[arg-type]


def stats(items: list[Interaction], starters: dict[str, str] | None = None, **kw: object):
    return compute_stats(sorted(items, key=lambda i: i.when), starters or {}, P, AS_OF, TZ, **kw)  # type: ignore[arg-type]


def test_every_documented_metric_is_computed_and_nothing_else() -> None:
    from agent.core.occasions import occasion_stats

    computed = {*stats([item(3, "in")]), *occasion_stats(None, AS_OF.date())}
    assert computed == METRIC_NAMES


def test_counts_dates_and_silence() -> None:
    s = stats([item(30, "out"), item(20, "in"), item(10, "meeting")])
    assert (s["emails_sent"], s["emails_received"], s["meetings"], s["interactions"]) == (
        1,
        1,
        1,
        3,
    )
    assert s["silence_days"] == 10
    assert s["last_contact"] == "2026-11-10"
    assert s["first_contact"] == "2026-10-21"
    assert s["last_meeting"] == "2026-11-10"


def test_future_interactions_are_ignored() -> None:
    s = stats([item(5, "in"), item(-3, "meeting")])
    assert s["meetings"] == 0 and s["silence_days"] == 5


def test_gaps_are_between_distinct_contact_days() -> None:
    # Three messages on one day, then every 10 days: the same-day burst is one contact day.
    items = [item(40, "in"), item(40, "out"), item(40, "in"), item(30, "out"), item(20, "in"),
             item(10, "out")]  # fmt: skip
    s = stats(items)
    assert s["contact_days"] == 4
    assert s["gap_median_days"] == 10.0
    assert s["gap_p90_days"] == 10.0
    assert s["silence_ratio"] == 1.0


def test_no_gaps_with_a_single_contact_day() -> None:
    s = stats([item(5, "in"), item(5, "out")])
    assert s["gap_p90_days"] is None and s["silence_ratio"] is None


def test_mass_mail_is_counted_apart() -> None:
    s = stats([item(5, "out", mass=True), item(50, "in")])
    assert s["mass_emails"] == 1
    assert s["emails_sent"] == 0
    assert s["silence_days"] == 50


def test_threads_and_reply_rates() -> None:
    starters = {"t1": ME, "t2": ME, "t3": ME, "t4": P}
    items = [
        item(40, "out", "t1"), item(39, "in", "t1"),
        item(30, "out", "t2"),
        item(20, "out", "t3"),
        item(10, "in", "t4"), item(9, "out", "t4"),
    ]  # fmt: skip
    s = stats(items, starters)
    assert s["threads"] == 4
    assert s["threads_started_by_me"] == 3
    assert s["threads_started_by_them"] == 1
    assert s["their_reply_rate"] == pytest.approx(1 / 3, abs=0.001)
    assert s["my_reply_rate"] == 1.0
    assert s["started_by_me_share"] == 0.75


def test_reply_rates_are_none_without_threads() -> None:
    s = stats([item(3, "meeting")])
    assert s["their_reply_rate"] is None and s["my_reply_rate"] is None


def test_reply_owed_since_the_first_unanswered_direct_message() -> None:
    s = stats([item(20, "out"), item(9, "in", direct=True), item(4, "in", direct=True)])
    assert s["reply_owed"] is True
    assert s["reply_owed_days"] == 9
    assert s["reply_owed_since"] == "2026-11-11"


@pytest.mark.parametrize(
    "items",
    [
        [item(9, "in", direct=True), item(8, "out")],  # answered
        [item(9, "in", direct=True), item(8, "meeting")],  # met since
        [item(9, "in", direct=False)],  # not personal
        [item(9, "in", direct=True, answers_me=True)],  # their answer closes my loop
        [item(9, "in", direct=True, mass=True)],
    ],
)
def test_reply_not_owed(items: list[Interaction]) -> None:
    assert stats(items)["reply_owed"] is False


def test_trend_compares_last_90_days_with_the_rate_before() -> None:
    earlier = [item(100 + 10 * k, "in") for k in range(18)]  # every 10 days for 180 days
    recent = [item(60, "out")]
    s = stats(earlier + recent)
    assert s["interactions_90d"] == 1
    assert s["earlier_rate"] == pytest.approx(3.0, rel=0.1)
    assert s["trend"] is not None and s["trend"] < 0.2


def test_first_contact_meeting_and_follow_up_inputs() -> None:
    s = stats([item(12, "meeting")])
    assert s["first_contact_meeting"] is True
    assert s["interactions_after_first"] == 0
    assert s["days_since_first_contact"] == 12
    s2 = stats([item(12, "meeting"), item(5, "out")])
    assert s2["interactions_after_first"] == 1


def test_cadence_and_overdue() -> None:
    s = stats([item(45, "in")], cadence=timedelta(days=30))
    assert (s["cadence_days"], s["overdue_days"]) == (30, 15)
    assert stats([item(10, "in")], cadence=timedelta(days=30))["overdue_days"] == 0
    assert stats([item(10, "in")])["cadence_days"] is None


def test_days_are_counted_in_my_time_zone() -> None:
    # 23:30 UTC on the 19th is already the 20th in Berlin: silence 0, not 1.
    late = Interaction(P, datetime(2026, 11, 19, 23, 30, tzinfo=UTC), "in", "k", None)
    assert stats([late])["silence_days"] == 0
