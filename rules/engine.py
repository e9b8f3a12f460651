"""Evaluate a loaded rule set against person reports: findings, and explanations of them.

Pure functions of their inputs (no I/O, no clock). ``rules.loader`` builds the RuleSet.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from agent.core.metrics import METRIC_NAMES, METRICS
from agent.core.occasions import TURNS, YEARS
from agent.core.person import Person, PersonReport
from rules.expr import BOOL, NUM, TEXT, Comparison, Expression
from rules.findings import SEVERITIES, Finding, Severity
from rules.template import safe_render, template_names

FIRED, NOT_FIRED, NOT_APPLICABLE = "fired", "not fired", "not applicable"
# A rule "almost fired" when at most this many comparisons failed, each within this share of
# its threshold (25 days against 30 is 0.2) or one unit of it: worth showing in `agent person`.
NEAR_MISS_RELATIVE = 0.25
NEAR_MISS_MAX_FAILED = 2
# Evidence always shows these, whatever the rule looks at: they tell how big and how recent
# the tie is.
ALWAYS_EVIDENCE = ("interactions", "last_contact")

Translate = Callable[[str], str]


def _identity(text: str) -> str:
    return text


def metric_kinds() -> dict[str, str]:
    """Each metric's static kind for the expression compiler (dates are ISO text)."""
    kinds = {"date": TEXT, "text": TEXT, "boolean": BOOL}
    return {m.name: kinds.get(m.unit, NUM) for m in METRICS}


@dataclass(frozen=True)
class Match:
    """Which people a rule applies to. Within a key any entry matches; all given keys must.

    ``emails`` are glob patterns ("*@example.com"); ``domains`` match the domain and its
    subdomains. An ``exclude_*`` hit always wins.
    """

    tags: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    exclude_emails: tuple[str, ...] = ()
    exclude_domains: tuple[str, ...] = ()

    def applies(self, person: Person) -> bool:
        if _hits(person, self.exclude_tags, self.exclude_emails, self.exclude_domains, False):
            return False
        return _hits(person, self.tags, self.emails, self.domains, True)

    def to_json(self) -> dict[str, list[str]]:
        raw = {
            "tags": self.tags,
            "emails": self.emails,
            "domains": self.domains,
            "exclude_tags": self.exclude_tags,
            "exclude_emails": self.exclude_emails,
            "exclude_domains": self.exclude_domains,
        }
        return {k: list(v) for k, v in raw.items() if v}


def _hits(
    person: Person,
    tags: tuple[str, ...],
    emails: tuple[str, ...],
    domains: tuple[str, ...],
    all_keys: bool,
) -> bool:
    """all_keys: every non-empty selector must hit (match); else any hit counts (exclude)."""
    checks = []
    if tags:
        checks.append(bool(set(tags) & {t.lower() for t in person.tags}))
    if emails:
        addresses = [e.lower() for e in person.emails]
        checks.append(any(fnmatch.fnmatchcase(a, p) for a in addresses for p in emails))
    if domains:
        own = [d.lower() for d in person.domains]
        checks.append(any(d == x or d.endswith("." + x) for d in own for x in domains))
    if not checks:
        return all_keys
    return all(checks) if all_keys else any(checks)


@dataclass(frozen=True)
class Rule:
    """One loaded rule. ``source`` is "builtin" or the path of the file that defined it."""

    id: str
    when: Expression
    severity: Severity
    message: str
    suggestion: str = ""
    description: str = ""
    match: Match = Match()
    score: Expression | None = None
    source: str = "builtin"

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metric names the condition reads, in order (the evidence of a finding)."""
        return tuple(n for n in self.when.names if n in METRIC_NAMES)

    @property
    def evidence_names(self) -> tuple[str, ...]:
        """What a finding carries as evidence: the metrics the condition read, then those its
        message and suggestion quote (so every number the reader sees can be checked), then
        ALWAYS_EVIDENCE."""
        quoted = [n for t in (self.message, self.suggestion) for n in template_names(t)]
        if "rhythm" in quoted:  # the words stand for a number: carry the number too
            quoted.append("rhythm_days")
        names = [*self.metrics, *(n for n in quoted if n in METRIC_NAMES), *ALWAYS_EVIDENCE]
        return tuple(dict.fromkeys(names))

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "source": self.source,
            "description": self.description,
            "when": self.when.source,
            "match": self.match.to_json(),
            "message": self.message,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class RuleSet:
    """The active rules in order, the merged settings, and the files they came from."""

    rules: tuple[Rule, ...]
    settings: Mapping[str, float] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)


@dataclass(frozen=True)
class Outcome:
    """How one rule turned out for one person, and why."""

    rule: Rule
    status: str  # fired | not fired | not applicable
    finding: Finding | None = None
    hits: tuple[Comparison, ...] = ()
    misses: tuple[Comparison, ...] = ()

    @property
    def near_miss(self) -> bool:
        """Not fired, but only by a little: every failed comparison was numeric and close."""
        if self.status != NOT_FIRED or not self.misses:
            return False
        if len(self.misses) > NEAR_MISS_MAX_FAILED:
            return False
        return all(_close(m) for m in self.misses)

    def describe(self) -> str:
        """One line for `agent person`, e.g. "one-sided: almost fired — their_reply_rate ..."."""
        if self.status == NOT_APPLICABLE:
            return f"{self.rule.id}: not applicable (excluded by its match)"
        if self.status == FIRED:
            assert self.finding is not None
            line = f"{self.rule.id}: fired ({self.rule.severity}) — {self.finding.message}"
            # Why: the comparisons that held (a bare flag such as reply_owed has none).
            why = "; ".join(h.describe() for h in self.hits if h.op)
            return f"{line} Because: {why}" if why else line
        label = "almost fired" if self.near_miss else "not fired"
        return f"{self.rule.id}: {label} — " + "; ".join(m.describe() for m in self.misses)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.id,
            "status": self.status,
            "near_miss": self.near_miss,
            "finding": self.finding.to_json() if self.finding else None,
            "failed": [m.describe() for m in self.misses],
            "held": [h.describe() for h in self.hits],
        }


def _close(miss: Comparison) -> bool:
    if miss.relative is None or miss.distance is None:
        return False
    # One day (or one message) short is close whatever the scale: 2 days against 3 is 50%.
    whole = all(float(v).is_integer() for v in (miss.left, miss.right))
    return miss.relative <= NEAR_MISS_RELATIVE or (whole and miss.distance <= 1)


def evaluate(
    ruleset: RuleSet, reports: Iterable[PersonReport], translate: Translate = _identity
) -> list[Finding]:
    """Every finding for every report, most important first.

    Order: severity (alert first), then the rule's position in the rule set, then how far past
    its threshold the person is (the rule's ``score``), then name. ``translate`` is applied to
    each message and suggestion template before it is filled in (gettext hook).
    """
    ranked: list[tuple[tuple[Any, ...], Finding]] = []
    for report in reports:
        values = _values(ruleset, report)
        for index, rule in enumerate(ruleset.rules):
            if not (rule.match.applies(report.person) and rule.when.holds(values)):
                continue
            finding = _finding(rule, report, values, translate)
            key = (-rule.rank, index, -_score(rule, values), report.person.name.lower())
            ranked.append((key, finding))
    ranked.sort(key=lambda pair: pair[0])
    return [finding for _, finding in ranked]


def explain(
    ruleset: RuleSet, report: PersonReport, translate: Translate = _identity
) -> list[Outcome]:
    """For one person, every rule in order: fired, not fired (with the failed comparisons,
    and whether it was a near miss) or not applicable (its match excludes this person)."""
    values = _values(ruleset, report)
    outcomes = []
    for rule in ruleset.rules:
        if not rule.match.applies(report.person):
            outcomes.append(Outcome(rule, NOT_APPLICABLE))
            continue
        trace = rule.when.trace(values)
        if trace.value:
            finding = _finding(rule, report, values, translate)
            outcomes.append(Outcome(rule, FIRED, finding, hits=trace.hits))
        else:
            outcomes.append(Outcome(rule, NOT_FIRED, misses=trace.misses))
    return outcomes


def group_by_person(findings: Iterable[Finding]) -> list[tuple[Person, list[Finding]]]:
    """Each person once, with all their findings; people ordered by their top finding."""
    groups: dict[int, tuple[Person, list[Finding]]] = {}
    for finding in findings:
        groups.setdefault(finding.person.id, (finding.person, []))[1].append(finding)
    return list(groups.values())


def _values(ruleset: RuleSet, report: PersonReport) -> dict[str, Any]:
    """What expressions and templates see: settings, then metrics, then the person's names."""
    values: dict[str, Any] = dict(ruleset.settings)
    values.update({k: _plain_value(v) for k, v in report.stats.items()})
    values["name"] = report.person.name
    values["first_name"] = report.person.first_name or report.person.name
    return values


def _plain_value(value: Any) -> Any:
    # Metrics promise ISO strings for dates; accept date objects too rather than never firing.
    return value.isoformat() if isinstance(value, date) else value


def _finding(
    rule: Rule, report: PersonReport, values: Mapping[str, Any], translate: Translate
) -> Finding:
    names = rule.evidence_names
    if isinstance(values.get("rhythm"), str):  # a phrase (agent/core/rhythm.py): in the language
        values = {**values, "rhythm": translate(values["rhythm"])}
    values = _notes(values, translate)
    return Finding(
        rule=rule.id,
        severity=rule.severity,
        person=report.person,
        message=safe_render(translate(rule.message), rule.message, values),
        suggestion=safe_render(translate(rule.suggestion), rule.suggestion, values),
        evidence={n: values.get(n) for n in names},
    )


# Occasion notes (agent/core/occasions.py): the msgid and the count it is filled in with.
NOTES = {"birthday_note": (TURNS, "birthday_age"), "anniversary_note": (YEARS, "anniversary_years")}


def _notes(values: Mapping[str, Any], translate: Translate) -> Mapping[str, Any]:
    filled = {
        note: translate(msgid).format(n=values[count])
        for note, (msgid, count) in NOTES.items()
        if isinstance(values.get(count), int)
    }
    return {**values, **filled} if filled else values


def _score(rule: Rule, values: Mapping[str, Any]) -> float:
    """How far past its threshold a finding is; bigger sorts first within a rule."""
    if rule.score is not None:
        value = rule.score.evaluate(values)
        return float(value) if isinstance(value, int | float) else 0.0
    # Without an explicit score: the last comparison that held is, by convention, the
    # threshold (guards come first: "interactions >= 6 and silence_days > 60").
    hits = [h.relative for h in rule.when.trace(values).hits if h.relative is not None]
    return hits[-1] if hits else 0.0
