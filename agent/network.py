"""The network as of a moment: read the store once, derive interactions, compute every person.

This is the one place that joins I/O (the store) with the pure core (identity, interactions,
stats); commands, the digest and the daemon all start here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.config import Config
from agent.identity import Identity
from agent.interactions import Derived, MeetingRecord, MessageRecord, derive
from agent.person import Person, PersonReport
from agent.stats import compute_stats
from agent.store import Store


@dataclass(frozen=True)
class Network:
    """Reports for every person, plus the interactions behind them (for `agent person`)."""

    reports: list[PersonReport]
    derived: Derived
    canonical: dict[int, str]  # person id -> canonical key in derived.by_person


def load_reports(config: Config, store: Store, as_of: datetime) -> list[PersonReport]:
    """Every person with at least one interaction up to ``as_of``, with their metrics."""
    return load_network(config, store, as_of).reports


def load_network(config: Config, store: Store, as_of: datetime) -> Network:
    identity = Identity(config)
    derived = derive(load_messages(store, as_of), load_meetings(store, as_of), identity)
    reports, canonical = build_reports(config, identity, derived, store, as_of)
    return Network(reports, derived, canonical)


def build_reports(
    config: Config, identity: Identity, derived: Derived, store: Store, as_of: datetime
) -> tuple[list[PersonReport], dict[int, str]]:
    reports: list[tuple[str, dict[str, Any]]] = []
    for canonical, items in derived.by_person.items():
        profile = identity.profile(canonical)
        cadence = profile.cadence if profile else None
        stats = compute_stats(items, derived.starters, canonical, as_of, config.me.tz, cadence)
        if stats["interactions"]:
            reports.append((canonical, stats))
    ids = store.person_ids(c for c, _ in reports)
    people = [
        PersonReport(person=_person(ids[c], c, identity, derived), stats=stats)
        for c, stats in reports
    ]
    people.sort(key=lambda r: (r.person.name.lower(), r.person.id))
    return people, {ids[c]: c for c, _ in reports}


def _person(pid: int, canonical: str, identity: Identity, derived: Derived) -> Person:
    profile = identity.profile(canonical)
    if profile is not None:
        return Person(id=pid, name=profile.name, emails=profile.emails, tags=profile.tags)
    name = derived.names.get(canonical) or canonical
    return Person(id=pid, name=name, emails=(canonical,))


def load_messages(store: Store, as_of: datetime) -> list[MessageRecord]:
    """Every message dated up to ``as_of``, oldest first, with its recipients and references."""
    addresses: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for key, role, email, _name in store.iter_addresses():
        addresses[key][role].append(email)
    refs: dict[str, list[str]] = defaultdict(list)
    for key, ref in store.iter_refs():
        refs[key].append(ref)
    until = as_of.astimezone(UTC)
    out = []
    for row in store.iter_messages(until):
        roles = addresses.get(row.key, {})
        out.append(
            MessageRecord(
                key=row.key,
                date=_aware(row.date),
                sender=row.sender,
                sender_name=row.sender_name,
                automated=row.automated,
                to=tuple(roles.get("to", ())),
                cc=tuple(roles.get("cc", ())),
                bcc=tuple(roles.get("bcc", ())),
                delivered=tuple(roles.get("delivered", ())),
                refs=tuple(refs.get(row.key, ())),
                in_reply_to=row.in_reply_to,
            )
        )
    return out


def load_meetings(store: Store, as_of: datetime) -> list[MeetingRecord]:
    grouped: dict[str, list[Any]] = {}
    for row in store.iter_meetings(as_of.astimezone(UTC)):
        grouped.setdefault(row.key, []).append(row)
    return [
        MeetingRecord(
            key=key,
            start=_aware(rows[0].start),
            organizer=rows[0].organizer,
            status=rows[0].status,
            attendees=tuple((r.email, r.name or "", r.partstat) for r in rows),
        )
        for key, rows in grouped.items()
    ]


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes; everything we store is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
