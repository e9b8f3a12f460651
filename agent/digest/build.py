"""The digest: findings grouped by rule, most important first, plus a summary of the network.

Pure: a function of person reports, findings and a date. Rendering lives in agent/digest/render/,
sending in agent/digest/mailer.py and agent/digest/delivery.py.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from agent.core.interactions import Coverage, Interaction
from agent.core.person import PersonReport
from rules.findings import SEVERITIES, Finding

# A tie is reciprocal when both sides write and neither starts nearly every thread.
RECIPROCAL_SHARE = (0.2, 0.8)


@dataclass(frozen=True)
class Group:
    """The people whose most important finding is this rule's, most urgent first.

    ``also`` runs parallel to ``findings``: each person's findings from other rules, so a
    person flagged by several rules appears once, under the first of them, with all of them.
    """

    rule: str
    findings: tuple[Finding, ...]
    also: tuple[tuple[Finding, ...], ...] = ()

    def __post_init__(self) -> None:
        if not self.also:
            object.__setattr__(self, "also", tuple(() for _ in self.findings))

    @property
    def rank(self) -> int:
        """The highest severity in the group, as an index into SEVERITIES."""
        return max(f.rank for f in self.findings)

    @property
    def entries(self) -> tuple[tuple[Finding, tuple[Finding, ...]], ...]:
        """(finding, the same person's other findings) pairs, in order."""
        return tuple(zip(self.findings, self.also, strict=True))


@dataclass(frozen=True)
class Archive:
    """What the archive covers, and the stretches where one direction of mail is missing:
    no verdict on fading or reciprocity is made there (interactions.Coverage)."""

    first: date
    last: date
    gaps: tuple[tuple[str, date, date], ...] = ()  # ("in" | "out", first day, last day)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "gaps": [
                {"direction": d, "from": a.isoformat(), "to": b.isoformat(),
                 "days": (b - a).days + 1}
                for d, a, b in self.gaps
            ],
        }  # fmt: skip


# Gaps up to this long are holidays, not holes in the archive; the summary shows the longest.
ARCHIVE_GAP_DAYS = 30
ARCHIVE_GAPS_SHOWN = 3


def archive_summary(coverage: Coverage | None) -> Archive | None:
    if coverage is None or coverage.span() is None:
        return None
    first, last = coverage.span() or (date.min, date.min)
    gaps = [(d, a, b) for d in ("in", "out") for a, b in coverage.gaps(d, ARCHIVE_GAP_DAYS)]
    longest = sorted(gaps, key=lambda g: g[1] - g[2])[:ARCHIVE_GAPS_SHOWN]
    return Archive(first, last, tuple(sorted(longest, key=lambda g: g[1])))


@dataclass(frozen=True)
class Summary:
    """Health figures of the whole network as of the digest's date."""

    people: int
    active_90d: int
    new_90d: int
    attention: int  # distinct people with at least one finding
    reciprocal_share: float | None  # share of two-way ties among people I exchange mail with
    by_rule: dict[str, int]
    archive: Archive | None = None
    hidden: dict[str, int] = field(default_factory=dict)  # findings your decisions hide
    back: tuple[str, ...] = ()  # names whose snooze just ended
    replies: tuple[tuple[str, str | None], ...] = ()  # (line, what was done or None)

    def to_json(self) -> dict[str, Any]:
        archive = {"archive": self.archive.to_json()} if self.archive else {}
        return {
            **archive,
            "people": self.people,
            "active_90d": self.active_90d,
            "new_90d": self.new_90d,
            "attention": self.attention,
            "reciprocal_share": self.reciprocal_share,
            "by_rule": dict(self.by_rule),
            "hidden": dict(self.hidden),
            "back_from_snooze": list(self.back),
            "replies": [{"line": line, "done": done} for line, done in self.replies],
        }


@dataclass(frozen=True)
class Digest:
    """``groups`` is what a reader sees (each person once); ``findings`` is every finding, one
    per person and rule, in importance order: severity, then rule, then the engine's order."""

    as_of: date
    groups: tuple[Group, ...]
    summary: Summary
    findings: tuple[Finding, ...] = ()
    answerable: bool = False  # a sent digest says how to answer it by mail
    # Where a reply goes and what it answers: (address, Message-ID, subject); the HTML part
    # offers mailto: links that pre-fill a reply line per finding.
    reply_to: tuple[str, str, str] | None = None
    # Person id -> interactions per month, the last ACTIVITY_MONTHS, oldest first (HTML strip).
    activity: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def number(self, finding: Finding) -> int:
        """The finding's ``[N]`` in this digest: its place in ``findings``, from 1; what a
        reply to the digest names it by."""
        return self._numbers.get((finding.rule, finding.person.id), 0)

    @functools.cached_property
    def _numbers(self) -> dict[tuple[str, int], int]:
        return {(f.rule, f.person.id): n for n, f in enumerate(self.findings, 1)}

    def to_json(self) -> dict[str, Any]:
        """The `agent digest --format json` document (DESIGN.md)."""
        return {
            "as_of": self.as_of.isoformat(),
            "findings": [{"number": n, **f.to_json()} for n, f in enumerate(self.findings, 1)],
            "summary": self.summary.to_json(),
        }


ACTIVITY_MONTHS = 12


def monthly(items: Iterable[Interaction], tz: tzinfo, as_of: datetime) -> tuple[int, ...]:
    """Interactions per calendar month (in ``tz``), the last ACTIVITY_MONTHS up to ``as_of``."""
    end = as_of.astimezone(tz)
    index: dict[tuple[int, int], int] = {}
    year, month = end.year, end.month
    for place in range(ACTIVITY_MONTHS - 1, -1, -1):
        index[(year, month)] = place
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    counts = [0] * ACTIVITY_MONTHS
    for i in items:
        if i.when <= as_of:
            local = i.when.astimezone(tz)
            slot = index.get((local.year, local.month))
            if slot is not None:
                counts[slot] += 1
    return tuple(counts)


def build_digest(
    reports: Sequence[PersonReport],
    findings: Iterable[Finding],
    as_of: date,
    coverage: Coverage | None = None,
    hidden: dict[str, int] | None = None,
    back: Sequence[str] = (),
) -> Digest:
    """Group ``findings`` by rule, most important group and finding first.

    Importance is severity, then the order of ``findings``: rules.engine.evaluate already
    sorts by severity, the rule's position in the rule set and how far past its threshold
    each person is, so the rule files stay the one place that decides what matters most.
    Example: findings [reply-owed alert, fading warning, fading info] give groups
    ``(Group("reply-owed", ...), Group("fading", (warning, info)))``.
    A person with several findings is listed once, in the group of the most important one,
    with the others in ``Group.also``; ``Digest.findings`` (the JSON) keeps every one.
    """
    checked = [_checked(f) for f in findings]
    ordered = [f for _, f in sorted(enumerate(checked), key=lambda p: (-p[1].rank, p[0]))]
    groups = tuple(_groups(ordered))
    summary = _summary(reports, groups, archive_summary(coverage), hidden or {})
    summary = dataclasses.replace(summary, back=tuple(back))
    return Digest(as_of, groups, summary, _by_importance(ordered))


def _by_importance(ordered: Sequence[Finding]) -> tuple[Finding, ...]:
    """Rule by rule, in order of each rule's first finding; one finding per person per rule."""
    by_rule: dict[str, dict[int, Finding]] = {}
    for finding in ordered:
        by_rule.setdefault(finding.rule, {}).setdefault(finding.person.id, finding)
    return tuple(f for people in by_rule.values() for f in people.values())


def _checked(finding: Finding) -> Finding:
    if finding.severity not in SEVERITIES:
        raise ValueError(f"finding for rule {finding.rule!r} has severity {finding.severity!r}")
    return finding


def _groups(findings: Iterable[Finding]) -> list[Group]:
    """Groups in order of their first (most important) finding; each person in one group."""
    by_person: dict[int, dict[str, Finding]] = {}
    for finding in findings:
        # One finding per person per rule; input is most severe first, so the first one stays.
        by_person.setdefault(finding.person.id, {}).setdefault(finding.rule, finding)
    by_rule: dict[str, list[tuple[Finding, tuple[Finding, ...]]]] = {}
    for own in by_person.values():
        first, *also = own.values()
        by_rule.setdefault(first.rule, []).append((first, tuple(also)))
    groups = [
        Group(rule, tuple(f for f, _ in entries), tuple(a for _, a in entries))
        for rule, entries in by_rule.items()
    ]
    # People were visited in order of their top finding, so groups already follow importance;
    # sorting keeps that order stable while making severity explicit.
    return sorted(groups, key=lambda g: -g.findings[0].rank)


def _summary(
    reports: Sequence[PersonReport],
    groups: Sequence[Group],
    archive: Archive | None,
    hidden: dict[str, int],
) -> Summary:
    # Address book contacts never mailed or met are there for their occasions only.
    reports = [
        r for r in reports if r.stats.get("interactions") != 0 or r.stats.get("group_emails")
    ]
    return Summary(
        archive=archive,
        hidden=hidden,
        people=len(reports),
        active_90d=sum(1 for r in reports if _number(r, "interactions_90d") > 0),
        new_90d=sum(1 for r in reports if 0 <= _number(r, "days_since_first_contact", -1) <= 90),
        attention=len({f.person.id for g in groups for f in g.findings}),
        reciprocal_share=_reciprocal_share(reports),
        by_rule=_by_rule(groups),
    )


def _by_rule(groups: Sequence[Group]) -> dict[str, int]:
    """People per rule, counting those shown under another rule's heading too."""
    counts: dict[str, int] = {}
    for group in groups:
        for first, also in group.entries:
            for finding in (first, *also):
                counts[finding.rule] = counts.get(finding.rule, 0) + 1
    return counts


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
    # Metrics that cannot be computed are None (agent/core/metrics.py); count them as absent.
    value = report.stats.get(name)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default
