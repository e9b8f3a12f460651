"""A finding: one rule firing for one person, with the evidence that made it fire."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from agent.core.person import Person

Severity = Literal["info", "warning", "alert"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)  # lowest first


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    person: Person
    message: str
    suggestion: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "person": self.person.to_json(),
            "message": self.message,
            "suggestion": self.suggestion,
            "evidence": {k: _json_value(v) for k, v in self.evidence.items()},
        }


def _json_value(value: Any) -> Any:
    # NaN and infinity are not JSON; a metric that cannot be computed is null (agent/core/metrics).
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
