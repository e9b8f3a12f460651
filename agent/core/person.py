"""A person as the rest of the agent sees them: identity plus their metrics as of a date."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Person:
    """One human: a stable id, a display name, every address they use, tags from config."""

    id: int
    name: str
    emails: tuple[str, ...]
    tags: tuple[str, ...] = ()
    # Addresses merged into this person by the agent, and why: (address, reason).
    merged: tuple[tuple[str, str], ...] = ()

    @property
    def first_name(self) -> str:
        name = self.name.strip()
        if not name or "@" in name:
            return name.split("@")[0] if name else ""
        if "," in name:  # "Meyer, Bob"
            return name.split(",", 1)[1].split()[0] if name.split(",", 1)[1].split() else name
        return name.split()[0]

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(sorted({e.rsplit("@", 1)[-1] for e in self.emails}))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "emails": list(self.emails),
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class PersonReport:
    """A person and their metrics (names and meanings in agent/core/metrics.py)."""

    person: Person
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"person": self.person.to_json(), "stats": self.stats}
