"""agent/digest/build.py: grouping, order, one entry per person, summary, JSON contract."""

from __future__ import annotations

import json

import pytest

from agent.digest.build import build_digest
from tests.digest_fixtures import (
    AS_OF,
    BOB,
    CARLA,
    DANA,
    EVE,
    finding,
    findings,
    report,
    reports,
)  # fmt: skip


def test_groups_most_important_first() -> None:
    digest = build_digest(reports(), findings(), AS_OF)
    assert [g.rule for g in digest.groups] == ["reply-owed", "fading", "follow-up", "one-sided"]


def test_severity_comes_first_even_for_unsorted_input() -> None:
    digest = build_digest([], [finding("fading", CARLA), finding("one-sided", BOB, "alert")], AS_OF)
    assert [g.rule for g in digest.groups] == ["one-sided", "fading"]


def test_engine_order_decides_within_a_severity() -> None:
    # rules.engine.evaluate orders by rule position and score; the digest keeps that order.
    found = [
        finding("fading-close", BOB), finding("fading", DANA), finding("one-sided", CARLA),
        finding("fading", CARLA), finding("fading", EVE),
    ]  # fmt: skip
    digest = build_digest([], found, AS_OF)
    assert [g.rule for g in digest.groups] == ["fading-close", "fading", "one-sided"]
    assert [f.person for f in digest.groups[1].findings] == [DANA, EVE]  # Carla: one-sided
    assert [f.person for f in digest.groups[2].findings] == [CARLA]


def test_one_entry_per_person_per_rule_keeps_the_most_severe() -> None:
    found = [finding("fading", CARLA, "info"), finding("fading", CARLA, "alert")]
    digest = build_digest([], [*found, finding("reply-owed", CARLA)], AS_OF)
    assert [g.rule for g in digest.groups] == ["fading"]
    assert [(f.rule, f.severity) for f in digest.findings] == [
        ("fading", "alert"), ("reply-owed", "warning")
    ]  # fmt: skip
    assert [[f.rule for f in also] for also in digest.groups[0].also] == [["reply-owed"]]


def test_a_person_flagged_by_several_rules_appears_once_with_all_of_them() -> None:
    found = [
        finding("reply-owed", EVE, "alert"), finding("reply-owed", DANA, "alert"),
        finding("fading", CARLA), finding("not-reciprocating", EVE),
        finding("one-sided", BOB, "info"), finding("one-sided", EVE, "info"),
    ]  # fmt: skip
    digest = build_digest([], found, AS_OF)
    assert [g.rule for g in digest.groups] == ["reply-owed", "fading", "one-sided"]
    owed = digest.groups[0]
    assert [f.person for f in owed.findings] == [EVE, DANA]
    also = [[f.rule for f in others] for others in owed.also]
    assert also == [["not-reciprocating", "one-sided"], []]
    assert [f.person for f in digest.groups[2].findings] == [BOB]
    # Nothing is lost: JSON lists every finding, rule by rule in importance order.
    assert [(f.rule, f.person.id) for f in digest.findings] == [
        ("reply-owed", EVE.id), ("reply-owed", DANA.id), ("fading", CARLA.id),
        ("not-reciprocating", EVE.id), ("one-sided", BOB.id), ("one-sided", EVE.id),
    ]  # fmt: skip
    assert digest.summary.attention == 4
    assert digest.summary.by_rule == {
        "reply-owed": 2, "not-reciprocating": 1, "one-sided": 2, "fading": 1
    }  # fmt: skip


def test_unknown_severity_is_rejected() -> None:
    with pytest.raises(ValueError, match="severity"):
        build_digest([], [finding("fading", CARLA, "urgent")], AS_OF)  # type: ignore[arg-type]


def test_summary_figures() -> None:
    summary = build_digest(reports(), findings(), AS_OF).summary
    assert summary.people == 4
    assert summary.active_90d == 3  # Carla's interactions_90d is 0
    assert summary.new_90d == 2  # Eve (30 days) and Dana (10 days)
    assert summary.attention == 4
    # With mail: Carla, Bob, Eve. Reciprocal: Carla only (Bob starts 95%, Eve never hears back).
    assert summary.reciprocal_share == pytest.approx(0.33)
    assert summary.by_rule == {"reply-owed": 1, "fading": 1, "follow-up": 1, "one-sided": 1}


def test_summary_tolerates_missing_and_none_metrics() -> None:
    people = [report(CARLA), report(BOB, interactions_90d=None, started_by_me_share=None)]
    summary = build_digest(people, [], AS_OF).summary
    assert (summary.people, summary.active_90d, summary.new_90d) == (2, 0, 0)
    assert summary.reciprocal_share is None


def test_json_matches_the_design_contract() -> None:
    digest = build_digest(reports(), findings(), AS_OF)
    data = json.loads(json.dumps(digest.to_json()))
    assert set(data) == {"as_of", "findings", "summary"}
    assert data["as_of"] == "2026-11-20"
    assert data["findings"][0] == {"number": 1, **findings()[1].to_json()}
    assert [f["number"] for f in data["findings"]] == [1, 2, 3, 4]
    assert [f["rule"] for f in data["findings"]] == [
        "reply-owed", "fading", "follow-up", "one-sided",
    ]  # fmt: skip
    assert data["summary"]["people"] == 4 and data["summary"]["active_90d"] == 3


def test_empty_digest() -> None:
    digest = build_digest([], [], AS_OF)
    assert digest.groups == () and digest.findings == ()
    assert digest.to_json()["summary"]["people"] == 0


def test_json_is_strict_even_with_odd_metric_values() -> None:
    odd = finding("fading", CARLA, trend=float("nan"), silence_ratio=float("inf"), silence_days=9)
    text = json.dumps(build_digest([], [odd], AS_OF).to_json(), allow_nan=False)
    evidence = json.loads(text)["findings"][0]["evidence"]
    assert evidence == {"trend": None, "silence_ratio": None, "silence_days": 9}
