"""The digest: findings grouped by rule, most important first, plus a summary of the network.

Pure: a function of person reports, findings and a date. Rendering lives in agent/render/,
sending in agent/mailer.py and agent/delivery.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from agent.person import PersonReport
from rules.findings import SEVERITIES, Finding

# A tie is reciprocal when both sides write and neither starts nearly every thread.
RECIPROCAL_SHARE = (0.2, 0.8)


@dataclass(frozen=True)
class Group:
    """The findings of one rule, one per person, most urgent first."""

    rule: str
    findings: tuple[Finding, ...]

    @property
    def rank(self) -> int:
        """The highest severity in the group, as an index into SEVERITIES."""
        return max(f.rank for f in self.findings)


@dataclass(frozen=True)
class Summary:
    """Health figures of the whole network as of the digest's date."""

    people: int
    active_90d: int
    new_90d: int
    attention: int  # distinct people with at least one finding
    reciprocal_share: float | None  # share of two-way ties among people I exchange mail with
    by_rule: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "active_90d": self.active_90d,
            "new_90d": self.new_90d,
            "attention": self.attention,
            "reciprocal_share": self.reciprocal_share,
            "by_rule": dict(self.by_rule),
        }


@dataclass(frozen=True)
class Digest:
    as_of: date
    groups: tuple[Group, ...]
    summary: Summary

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding, in importance order (group by group)."""
        return tuple(f for g in self.groups for f in g.findings)

    def to_json(self) -> dict[str, Any]:
        """The `agent digest --format json` document (DESIGN.md)."""
        return {
            "as_of": self.as_of.isoformat(),
            "findings": [f.to_json() for f in self.findings],
            "summary": self.summary.to_json(),
        }


def build_digest(
    reports: Sequence[PersonReport], findings: Iterable[Finding], as_of: date
) -> Digest:
    """Group ``findings`` by rule, most important group and finding first.

    Importance is severity, then the order of ``findings``: rules.engine.evaluate already
    sorts by severity, the rule's position in the rule set and how far past its threshold
    each person is, so the rule files stay the one place that decides what matters most.
    Example: findings [reply-owed alert, fading warning, fading info] give groups
    ``(Group("reply-owed", ...), Group("fading", (warning, info)))``.
    """
    checked = [_checked(f) for f in findings]
    ordered = sorted(enumerate(checked), key=lambda pair: (-pair[1].rank, pair[0]))
    groups = tuple(_groups(f for _, f in ordered))
    return Digest(as_of=as_of, groups=groups, summary=_summary(reports, groups))


def _checked(finding: Finding) -> Finding:
    if finding.severity not in SEVERITIES:
        raise ValueError(f"finding for rule {finding.rule!r} has severity {finding.severity!r}")
    return finding


def _groups(findings: Iterable[Finding]) -> list[Group]:
    """Groups in order of their first (most important) finding."""
    by_rule: dict[str, dict[int, Finding]] = {}
    for finding in findings:
        # One entry per person per rule; input is most severe first, so the first one stays.
        by_rule.setdefault(finding.rule, {}).setdefault(finding.person.id, finding)
    return [Group(rule, tuple(people.values())) for rule, people in by_rule.items()]


def _summary(reports: Sequence[PersonReport], groups: Sequence[Group]) -> Summary:
    return Summary(
        people=len(reports),
        active_90d=sum(1 for r in reports if _number(r, "interactions_90d") > 0),
        new_90d=sum(1 for r in reports if 0 <= _number(r, "days_since_first_contact", -1) <= 90),
        attention=len({f.person.id for g in groups for f in g.findings}),
        reciprocal_share=_reciprocal_share(reports),
        by_rule={g.rule: len(g.findings) for g in groups},
    )


def _reciprocal_share(reports: Sequence[PersonReport]) -> float | None:
    with_mail = [r for r in reports if _number(r, "emails_sent") + _number(r, "emails_received")]
    if not with_mail:
        return None
    return round(sum(1 for r in with_mail if _reciprocal(r)) / len(with_mail), 2)


def _reciprocal(report: PersonReport) -> bool:
    if _number(report, "emails_sent") <= 0 or _number(report, "emails_received") <= 0:
        return False
    share = report.stats.get("started_by_me_share")
    low, high = RECIPROCAL_SHARE
    return share is None or low <= share <= high


def _number(report: PersonReport, name: str, default: float = 0) -> float:
    # Metrics that cannot be computed are None (agent/metrics.py); count them as absent.
    value = report.stats.get(name)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default
