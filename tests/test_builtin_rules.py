"""The shipped rules on crafted metric profiles: planted cases fire, near misses and healthy or
bulk profiles do not. Also ordering, evidence, explanations and template rendering."""

from __future__ import annotations

from typing import Any

import pytest

from agent.core.metrics import METRIC_NAMES
from agent.core.person import Person, PersonReport
from rules.engine import (
    FIRED,
    NOT_APPLICABLE,
    NOT_FIRED,
    RuleSet,
    evaluate,
    explain,
    group_by_person,
)
from rules.loader import load_builtin, load_rules

RULES = load_builtin()


def healthy(**overrides: Any) -> dict[str, Any]:
    """A two-way tie, in touch every ~2 weeks for two years, last contact 5 days ago."""
    stats: dict[str, Any] = {
        "personal_tie": True,
        "group_emails": 0,
        "reciprocity_threads": 50,
        "episodes": 40,
        "rhythm_days": 14.0,
        "rhythm": "every two weeks or so",
        "silence_coverage": 1.0,  # a mailbox synced up to today
        "emails_sent": 40,
        "emails_received": 42,
        "meetings": 3,
        "interactions": 85,
        "mass_emails": 0,
        "threads": 50,
        "threads_started_by_me": 24,
        "threads_started_by_them": 26,
        "started_by_me_share": 0.48,
        "their_reply_rate": 0.9,
        "my_reply_rate": 0.92,
        "first_contact": "2024-11-01",
        "last_contact": "2026-11-15",
        "last_sent": "2026-11-15",
        "last_received": "2026-11-14",
        "last_meeting": "2026-09-01",
        "silence_days": 5,
        "days_since_first_contact": 750,
        "contact_days": 60,
        "gap_median_days": 14.0,
        "gap_p90_days": 21.0,
        "gap_max_days": 30,
        "silence_ratio": 0.24,
        "interactions_90d": 10,
        "recent_rate": 3.3,
        "earlier_rate": 3.4,
        "trend": 0.97,
        "reply_owed": False,
        "reply_owed_days": None,
        "reply_owed_since": None,
        "first_contact_meeting": False,
        "interactions_after_first": 84,
        "cadence_days": None,
        "overdue_days": None,
    }
    unknown = set(overrides) - METRIC_NAMES
    assert not unknown, unknown
    stats.update(overrides)
    if "personal_tie" not in overrides:  # as interactions.Derived.ties has it
        stats["personal_tie"] = stats["emails_sent"] > 0 or stats["meetings"] > 0
    return stats


def report(stats: dict[str, Any], name: str = "Carla Diaz", pid: int = 3) -> PersonReport:
    email = name.split()[0].lower() + "@example.com"
    return PersonReport(Person(pid, name, (email,)), stats)


def fired(stats: dict[str, Any], ruleset: RuleSet = RULES) -> list[str]:
    return [f.rule for f in evaluate(ruleset, [report(stats)])]


def outcome(stats: dict[str, Any], rule_id: str) -> Any:
    return next(o for o in explain(RULES, report(stats)) if o.rule.id == rule_id)


# --- profiles: (stats, rules that must fire) -----------------------------------------------

FADING = {"silence_days": 199, "last_contact": "2026-05-05", "interactions_90d": 0}
ONE_SIDED = {
    "emails_sent": 9,
    "emails_received": 1,
    "meetings": 0,
    "interactions": 10,
    "threads": 8,
    "threads_started_by_me": 8,
    "threads_started_by_them": 0,
    "started_by_me_share": 1.0,
    "their_reply_rate": 0.125,
    "my_reply_rate": None,
    "silence_days": 20,
    "contact_days": 9,
    "gap_median_days": 25.0,
    "gap_p90_days": 25.0,
}
NOT_RECIPROCATING = {
    "emails_sent": 1,
    "emails_received": 9,
    "meetings": 0,
    "interactions": 10,
    "threads": 8,
    "threads_started_by_me": 0,
    "threads_started_by_them": 8,
    "started_by_me_share": 0.0,
    "their_reply_rate": None,
    "my_reply_rate": 0.125,
    "silence_days": 15,
    "contact_days": 9,
    "gap_median_days": 20.0,
    "gap_p90_days": 20.0,
}
REPLY_OWED = {"reply_owed": True, "reply_owed_days": 6, "reply_owed_since": "2026-11-14"}
FOLLOW_UP = {
    "emails_sent": 0,
    "emails_received": 0,
    "meetings": 1,
    "interactions": 1,
    "threads": 0,
    "threads_started_by_me": 0,
    "threads_started_by_them": 0,
    "started_by_me_share": None,
    "their_reply_rate": None,
    "my_reply_rate": None,
    "first_contact": "2026-11-08",
    "last_contact": "2026-11-08",
    "silence_days": 12,
    "days_since_first_contact": 12,
    "contact_days": 1,
    "gap_median_days": None,
    "gap_p90_days": None,
    "gap_max_days": None,
    "first_contact_meeting": True,
    "interactions_after_first": 0,
}
OVERDUE = {"silence_days": 120, "cadence_days": 90, "overdue_days": 30}

PLANTED = [
    pytest.param(FADING, ["fading"], id="fading"),
    pytest.param(ONE_SIDED, ["one-sided"], id="one-sided"),
    pytest.param(NOT_RECIPROCATING, ["not-reciprocating"], id="not-reciprocating"),
    pytest.param(REPLY_OWED, ["reply-owed"], id="reply-owed"),
    pytest.param(FOLLOW_UP, ["follow-up"], id="follow-up"),
    pytest.param(OVERDUE, ["overdue", "fading"], id="overdue-and-fading"),
    pytest.param(
        {"silence_days": 40, "cadence_days": 30, "overdue_days": 10},
        ["overdue"],
        id="overdue-without-fading",
    ),
    pytest.param(
        # Someone who keeps writing: the owed message is old, their latest is fresh.
        {**NOT_RECIPROCATING, **REPLY_OWED, "reply_owed_days": 115},
        ["reply-owed", "not-reciprocating"],
        id="reply-owed-to-a-persistent-contact",
    ),
    pytest.param(
        # A stranger a known tie introduced (personal_tie) deserves an answer too.
        {
            **REPLY_OWED,
            "emails_sent": 0,
            "emails_received": 1,
            "meetings": 0,
            "interactions": 1,
            "personal_tie": True,
        },
        ["reply-owed"],
        id="reply-owed-to-an-introduced-stranger",
    ),
    pytest.param(
        # A tie kept alive by meetings only still fades.
        {**FADING, "emails_sent": 0, "emails_received": 0, "meetings": 12, "interactions": 12},
        ["fading"],
        id="fading-meetings-only",
    ),
    pytest.param(
        # Weekly ties: the floor, not 2.5 x 9 days, decides.
        {"gap_median_days": 7.0, "gap_p90_days": 9.0, "silence_days": 31},
        ["fading"],
        id="fading-weekly-after-a-month",
    ),
    pytest.param(
        # DESIGN.md's example: every 30 days (p90 29), silent for 199.
        {"gap_median_days": 28.0, "gap_p90_days": 29.0, "silence_days": 199},
        ["fading"],
        id="fading-monthly-design-example",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), PLANTED)
def test_planted_relationships_are_found(overrides: dict[str, Any], expected: list[str]) -> None:
    assert sorted(fired(healthy(**overrides))) == sorted(expected)


QUIET = [
    pytest.param({}, id="healthy-biweekly"),
    pytest.param(
        {"gap_median_days": 7.0, "gap_p90_days": 9.0, "silence_days": 10},
        id="weekly-tie-after-10-days",
    ),
    pytest.param(
        {"gap_median_days": 1.0, "gap_p90_days": 3.0, "silence_days": 21},
        id="daily-colleague-on-three-weeks-holiday",
    ),
    pytest.param(
        # Bursty: many same-week messages (median 1 day) then long pauses (p90 60).
        {"gap_median_days": 1.0, "gap_p90_days": 60.0, "silence_days": 100},
        id="bursty-tie-in-a-usual-pause",
    ),
    pytest.param(
        {"gap_median_days": 30.0, "gap_p90_days": 45.0, "silence_days": 80},
        id="monthly-tie-in-a-long-but-usual-pause",
    ),
    pytest.param(
        {"interactions": 5, "contact_days": 3, "silence_days": 300, "gap_p90_days": 10.0},
        id="too-little-history",
    ),
    pytest.param(
        # One busy week (a purchase, a project), then nothing: not an established rhythm.
        {
            "interactions": 8,
            "contact_days": 5,
            "days_since_first_contact": 60,
            "silence_days": 54,
            "gap_median_days": 1.0,
            "gap_p90_days": 2.0,
        },
        id="one-busy-week-then-silence",
    ),
    pytest.param(
        {"silence_days": 2000, "last_contact": "2021-05-09", "days_since_first_contact": 3000},
        id="dormant-for-years",
    ),
    pytest.param(
        {"cadence_days": 90, "overdue_days": 0, "silence_days": 90, "gap_p90_days": 45.0},
        id="cadence-exactly-met",
    ),
    pytest.param(
        {"reply_owed": True, "reply_owed_days": 2, "reply_owed_since": "2026-11-18"},
        id="reply-owed-only-two-days",
    ),
    pytest.param(
        {**FOLLOW_UP, "days_since_first_contact": 2, "silence_days": 2},
        id="follow-up-too-early",
    ),
    pytest.param(
        {**FOLLOW_UP, "days_since_first_contact": 45, "silence_days": 45},
        id="follow-up-too-late",
    ),
    pytest.param(
        {**FOLLOW_UP, "interactions_after_first": 1, "interactions": 2},
        id="followed-up-already",
    ),
    pytest.param(
        # I start most threads, but they answer: a healthy tie where I am the organiser.
        {**ONE_SIDED, "their_reply_rate": 0.875, "emails_received": 7},
        id="i-start-they-answer",
    ),
]


@pytest.mark.parametrize("overrides", QUIET)
def test_healthy_and_near_miss_profiles_do_not_fire(overrides: dict[str, Any]) -> None:
    assert fired(healthy(**overrides)) == []


BULK = [
    pytest.param(
        # A newsletter that slipped past the header filters: 40 issues, never a word back.
        {
            "emails_sent": 0,
            "emails_received": 40,
            "meetings": 0,
            "interactions": 40,
            "threads": 40,
            "threads_started_by_me": 0,
            "threads_started_by_them": 40,
            "started_by_me_share": 0.0,
            "their_reply_rate": None,
            "my_reply_rate": 0.0,
            "silence_days": 3,
            "contact_days": 40,
            "gap_median_days": 7.0,
            "gap_p90_days": 7.0,
            "reply_owed": True,
            "reply_owed_days": 270,
            "reply_owed_since": "2026-02-23",
        },
        id="undetected-newsletter",
    ),
    pytest.param(
        # The same newsletter after it stopped: its rhythm broke, but it was never a tie.
        {
            "emails_sent": 0,
            "emails_received": 40,
            "meetings": 0,
            "interactions": 40,
            "threads_started_by_me": 0,
            "threads_started_by_them": 40,
            "started_by_me_share": 0.0,
            "my_reply_rate": 0.0,
            "their_reply_rate": None,
            "silence_days": 120,
            "contact_days": 40,
            "gap_median_days": 7.0,
            "gap_p90_days": 7.0,
        },
        id="stopped-newsletter",
    ),
    pytest.param(
        # A bot with a human-looking address mailing me directly, never answered.
        {
            "emails_sent": 0,
            "emails_received": 20,
            "meetings": 0,
            "interactions": 20,
            "threads_started_by_me": 0,
            "threads_started_by_them": 20,
            "started_by_me_share": 0.0,
            "my_reply_rate": 0.0,
            "their_reply_rate": None,
            "silence_days": 4,
            "reply_owed": True,
            "reply_owed_days": 20,
            "reply_owed_since": "2026-10-31",
        },
        id="new-automated-sender",
    ),
    pytest.param(
        # Only mass mail between us: recorded, counted nowhere else.
        {
            "emails_sent": 0,
            "emails_received": 0,
            "meetings": 0,
            "interactions": 0,
            "mass_emails": 60,
            "threads": 0,
            "threads_started_by_me": 0,
            "threads_started_by_them": 0,
            "started_by_me_share": None,
            "their_reply_rate": None,
            "my_reply_rate": None,
            "first_contact": None,
            "last_contact": None,
            "silence_days": None,
            "days_since_first_contact": None,
            "contact_days": 0,
            "gap_median_days": None,
            "gap_p90_days": None,
            "gap_max_days": None,
            "interactions_after_first": 0,
        },
        id="mass-mail-only",
    ),
    pytest.param(
        # A shop without list headers: its first message to me, and I never wrote to it.
        {**REPLY_OWED, "emails_sent": 0, "emails_received": 1, "meetings": 0, "interactions": 1},
        id="stranger-without-a-tie",
    ),
]


@pytest.mark.parametrize("overrides", BULK)
def test_bulk_senders_are_not_flagged(overrides: dict[str, Any]) -> None:
    assert fired(healthy(**overrides)) == []


def test_a_one_sided_tie_that_went_quiet_long_ago_is_fading_not_one_sided() -> None:
    assert fired(healthy(**{**ONE_SIDED, "silence_days": 400})) == ["fading"]


def test_every_metric_missing_fires_nothing() -> None:
    assert fired({}) == []


# --- near misses in explanations ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "rule_id", "failed"),
    [
        ({"silence_days": 48, "gap_p90_days": 20.0}, "fading", "silence_days > max("),
        ({**ONE_SIDED, "their_reply_rate": 0.3}, "one-sided", "their_reply_rate <= "),
        ({**ONE_SIDED, "started_by_me_share": 0.7}, "one-sided", "started_by_me_share >= "),
        ({**NOT_RECIPROCATING, "my_reply_rate": 0.3}, "not-reciprocating", "my_reply_rate <="),
        ({**REPLY_OWED, "reply_owed_days": 2}, "reply-owed", "reply_owed_days >= "),
        ({**FOLLOW_UP, "days_since_first_contact": 34}, "follow-up", "days_since_first_contact"),
        ({"cadence_days": 90, "overdue_days": 0}, "overdue", "overdue_days > "),
    ],
)
def test_near_misses_are_explained(overrides: dict[str, Any], rule_id: str, failed: str) -> None:
    result = outcome(healthy(**overrides), rule_id)
    assert result.status == NOT_FIRED
    assert result.near_miss, result.describe()
    assert result.misses[0].text.startswith(failed)
    assert result.describe().startswith(f"{rule_id}: almost fired — ")


def test_far_misses_are_not_near() -> None:
    result = outcome(healthy(), "fading")
    assert result.status == NOT_FIRED and not result.near_miss
    assert "5 > 52.5 fails (by 47.5)" in result.describe()
    assert not outcome(healthy(), "reply-owed").near_miss  # a boolean: nothing is "close"
    assert not outcome(healthy(), "one-sided").near_miss  # ratios far off, though below 1


def test_explain_fired_carries_the_finding() -> None:
    result = outcome(healthy(**FADING), "fading")
    assert result.status == FIRED
    assert result.finding is not None and result.finding.rule == "fading"
    assert result.hits and not result.misses
    assert result.to_json()["status"] == "fired"
    assert "fading: fired (warning) — Carla Diaz: no contact for 199 days" in result.describe()
    # ...and why: the comparisons that held, with the values they saw.
    assert "Because: interactions >= fading_min_interactions: 85 >= 6 holds;" in result.describe()
    threshold = "max(fading_factor * gap_p90_days, min_fading_days): 199 > 52.5 holds"
    assert f"silence_days > {threshold}" in result.describe()


def test_explain_fired_on_a_flag_alone_still_explains() -> None:
    owed = {"reply_owed": True, "reply_owed_days": 9, "reply_owed_since": "2026-11-11"}
    line = outcome(healthy(**owed), "reply-owed").describe()
    assert line.startswith("reply-owed: fired (alert) — Carla Diaz wrote to you 9 days ago")
    assert "reply_owed_days >= reply_after_days: 9 >= 3 holds" in line


def test_explain_not_applicable_when_match_excludes(tmp_path: Any) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n  - id: fading\n    match: {exclude: {tags: [family]}}\n"
        "    when: silence_days > 10\n    message: hi\n"
    )
    ruleset = load_rules([path])
    person = Person(1, "Mum", ("mum@example.com",), ("family",))
    outcomes = explain(ruleset, PersonReport(person, healthy(**FADING)))
    fading = next(o for o in outcomes if o.rule.id == "fading")
    assert fading.status == NOT_APPLICABLE
    assert "not applicable" in fading.describe()
    assert evaluate(ruleset, [PersonReport(person, healthy(**FADING))]) == []


# --- findings: evidence, order, grouping, templates ---------------------------------------------


def test_finding_evidence_is_the_metrics_the_rule_read() -> None:
    (finding,) = evaluate(RULES, [report(healthy(**FADING))])
    assert finding.evidence["silence_days"] == 199
    assert finding.evidence["gap_p90_days"] == 21.0
    assert finding.evidence["interactions"] == 85
    assert finding.evidence["last_contact"] == "2026-05-05"
    assert set(finding.evidence) <= METRIC_NAMES  # metrics only, no settings
    # The rhythm is said in words; the number behind them is in the evidence too.
    assert finding.evidence["rhythm_days"] == 14.0
    assert finding.message == (
        "Carla Diaz: no contact for 199 days; you used to be in touch every two weeks or so."
    )
    assert finding.suggestion.startswith("Send Carla something useful")
    assert finding.to_json()["evidence"] == finding.evidence


def test_messages_render_percentages_and_counts() -> None:
    (finding,) = evaluate(RULES, [report(healthy(**ONE_SIDED), "Dan Okafor")])
    assert finding.message == (
        "Dan Okafor: you started 100% of your conversations, and Dan answered 12% of yours."
    )
    (finding,) = evaluate(RULES, [report(healthy(**OVERDUE, gap_p90_days=60.0), "Helen Novak")])
    assert "your target is every 90 days" in finding.message


def test_findings_are_ordered_by_severity_rule_order_then_margin() -> None:
    reports = [
        report(healthy(silence_days=100), "Fading Less", 1),
        report(healthy(silence_days=300), "Fading More", 2),
        report(healthy(**ONE_SIDED), "One Sided", 3),
        report(healthy(**REPLY_OWED), "Owed Reply", 4),
        report(healthy(**OVERDUE), "Over Due", 5),
    ]
    order = [(f.rule, f.person.name) for f in evaluate(RULES, reports)]
    assert order == [
        ("reply-owed", "Owed Reply"),
        ("overdue", "Over Due"),
        ("fading", "Fading More"),
        ("fading", "Over Due"),
        ("fading", "Fading Less"),
        ("one-sided", "One Sided"),
    ]


def test_a_person_flagged_by_several_rules_appears_once_with_all() -> None:
    reports = [
        report(healthy(**REPLY_OWED, cadence_days=3, overdue_days=2), "Both Rules", 1),
        report(healthy(**FADING), "Only Fading", 2),
    ]
    groups = group_by_person(evaluate(RULES, reports))
    assert [(p.name, [f.rule for f in fs]) for p, fs in groups] == [
        ("Both Rules", ["reply-owed", "overdue"]),
        ("Only Fading", ["fading"]),
    ]


def test_translate_is_applied_to_templates_before_formatting() -> None:
    seen: list[str] = []

    def translate(template: str) -> str:
        seen.append(template)
        return "DE " + template.replace("no contact for", "kein Kontakt seit")

    (finding,) = evaluate(RULES, [report(healthy(**FADING))], translate=translate)
    assert finding.message.startswith("DE Carla Diaz: kein Kontakt seit 199 days")
    assert finding.suggestion.startswith("DE Send Carla")
    assert any("{silence_days}" in s for s in seen)  # the template, not the filled text


def test_a_broken_translation_falls_back_to_the_original() -> None:
    def translate(template: str) -> str:
        return "{name.__class__} {oops"

    (finding,) = evaluate(RULES, [report(healthy(**FADING))], translate=translate)
    assert finding.message.startswith("Carla Diaz: no contact for 199 days")


def test_a_translation_with_a_huge_field_width_is_rendered_plainly() -> None:
    def translate(template: str) -> str:
        return template.replace("{silence_days}", "{silence_days:>999999999}")

    (finding,) = evaluate(RULES, [report(healthy(**FADING))], translate=translate)
    assert finding.message.startswith("Carla Diaz: no contact for 199 days")


def test_none_and_float_formatting_in_templates(tmp_path: Any) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n  - id: t\n    when: silence_days > 1\n"
        "    message: '{trend} {gap_p90_days} {gap_median_days:.0f} {recent_rate} "
        "{reply_owed} {cadence_days:.0f} {first_name} {min_fading_days} {fading_factor}'\n"
    )
    ruleset = load_rules([path])
    stats = healthy(trend=0.125, gap_p90_days=29.0, gap_median_days=13.6, recent_rate=123.4)
    (finding,) = evaluate(ruleset, [report(stats)])
    assert finding.message == "0.12 29 14 123 no — Carla 30 2.5"


def test_settings_change_thresholds(tmp_path: Any) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("settings: {min_fading_days: 400, reply_after_days: 1}\n")
    ruleset = load_rules([path])
    assert fired(healthy(**FADING), ruleset) == []
    assert fired(healthy(**{**REPLY_OWED, "reply_owed_days": 1}), ruleset) == ["reply-owed"]


def test_date_objects_in_stats_are_accepted() -> None:
    from datetime import date

    stats = healthy(**{**FADING, "last_contact": date(2026, 5, 5)})
    (finding,) = evaluate(RULES, [report(stats)])
    assert finding.evidence["last_contact"] == "2026-05-05"
