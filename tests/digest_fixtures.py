"""Crafted people, reports and findings for the digest, render, mailer and delivery tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from agent.config.settings import Config, parse_config
from agent.core.person import Person, PersonReport
from rules.findings import Finding, Severity

AS_OF = date(2026, 11, 20)
HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(2)>'

CARLA = Person(3, "Carla Diaz", ("carla@example.com",))
BOB = Person(5, "Bob Meyer", ("bob@example.com",), ("close",))
EVE = Person(7, HOSTILE, ("eve+<b>@evil.example",))
DANA = Person(9, "Dana Ruiz", ("dana@example.org",))


def report(person: Person, **stats: Any) -> PersonReport:
    return PersonReport(person, stats)


def reports() -> list[PersonReport]:
    return [
        report(CARLA, interactions_90d=0, emails_sent=25, emails_received=25,
               started_by_me_share=0.48, days_since_first_contact=900),
        report(BOB, interactions_90d=4, emails_sent=10, emails_received=1,
               started_by_me_share=0.95, days_since_first_contact=400),
        report(EVE, interactions_90d=2, emails_sent=0, emails_received=3,
               days_since_first_contact=30),
        report(DANA, interactions_90d=1, emails_sent=0, emails_received=0, meetings=1,
               days_since_first_contact=10),
    ]  # fmt: skip


def finding(rule: str, person: Person, severity: Severity = "warning", **evidence: Any) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        person=person,
        message=f"{person.name}: {rule} for {evidence.get('silence_days', 9)} days.",
        suggestion=f"Send {person.first_name} something useful.",
        evidence=evidence,
    )


def findings() -> list[Finding]:
    return [
        finding("fading", CARLA, silence_days=199, silence_ratio=6.8),
        finding("reply-owed", EVE, "alert", reply_owed_days=9),
        finding("follow-up", DANA, "info", silence_days=10),
        finding("one-sided", BOB, "info", started_by_me_share=0.95),
    ]


def config(**tables: Any) -> Config:
    data: dict[str, Any] = {
        "me": {"name": "Ana", "emails": ["ana@example.org"], "timezone": "Europe/Berlin"},
    }
    data.update(tables)
    return parse_config(data)
