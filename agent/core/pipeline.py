"""The network as of a moment: read the store once, derive interactions, compute every person.

This is the one place that joins I/O (the store) with the pure core (identity, interactions,
stats); commands, the digest and the daemon all start here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.config.settings import Config
from agent.core.aliases import find_aliases
from agent.core.decisions import effects, logged_meetings
from agent.core.identity import Identity
from agent.core.interactions import Derived, MeetingRecord, MessageRecord, derive
from agent.core.model import Decision
from agent.core.occasions import occasion_stats
from agent.core.person import Person, PersonReport
from agent.core.stats import compute_stats
from agent.store.database import Store
from agent.store.reads import MeetingRow


@dataclass(frozen=True)
class Network:
    """Reports for every person, plus the interactions behind them (for `agent person`)."""

    reports: list[PersonReport]
    derived: Derived
    canonical: dict[int, str]  # person id -> canonical key in derived.by_person
    identity: Identity
    decisions: Sequence[Decision] = ()  # the user's decisions in force, as read for this


def load_reports(config: Config, store: Store, as_of: datetime) -> list[PersonReport]:
    """Every person with at least one interaction up to ``as_of``, with their metrics."""
    return load_network(config, store, as_of).reports


def load_network(config: Config, store: Store, as_of: datetime) -> Network:
    decided = store.decisions()
    identity = make_identity(config, store, decided)
    me = config.me.emails[0] if config.me.emails else ""
    logged = logged_meetings(decided, me, config.me.tz, as_of.astimezone(UTC))
    meetings = [*load_meetings(store, as_of), *logged]
    derived = derive(load_messages(store, as_of), meetings, identity)
    reports, canonical = build_reports(config, identity, derived, store, as_of)
    return Network(reports, derived, canonical, identity, decided)


def make_identity(
    config: Config, store: Store, decided: Sequence[Decision] | None = None
) -> Identity:
    """Identity from config, decisions, address books, the lists the store has seen, and
    addresses merged by name."""
    # A list's own address never writes personal mail itself: an address that did is a
    # person, whatever List-Post header an outsider put into a message naming it.
    lists = store.list_addresses() - store.personal_senders()
    cards = store.cards()
    chosen = effects(store.decisions() if decided is None else decided)
    plain = Identity(config, lists=lists, cards=cards, decided=chosen)
    me = frozenset(plain.me)
    aliases = find_aliases(store.named_addresses(), me, plain.configured())
    return Identity(config, lists=lists, aliases=aliases.values(), cards=cards, decided=chosen)


def build_reports(
    config: Config, identity: Identity, derived: Derived, store: Store, as_of: datetime
) -> tuple[list[PersonReport], dict[int, str]]:
    reports: list[tuple[str, dict[str, Any]]] = []
    today = as_of.astimezone(config.me.tz).date()
    # Address book contacts without any mail or meeting count too: for their occasions, and
    # for a cadence set on them. `agent people` lists them only with --all.
    quiet = {c for c in identity.contacts() if c not in derived.by_person}
    for canonical, items in [*derived.by_person.items(), *((c, []) for c in sorted(quiet))]:
        profile = identity.profile(canonical)
        cadence = profile.cadence if profile else None
        stats = compute_stats(
            items,
            derived.starters,
            canonical,
            as_of,
            config.me.tz,
            cadence,
            tied=canonical in derived.ties,
            coverage=derived.coverage,
            thread_starts=derived.thread_starts,
        )
        stats.update(occasion_stats(profile, today))
        if stats["interactions"] or stats["group_emails"] or canonical in quiet:
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
        extra = identity.merged(canonical)
        return Person(
            id=pid,
            name=profile.name or derived.names.get(canonical) or canonical,
            emails=(*profile.emails, *(a.email for a in extra)) or (canonical,),
            tags=profile.tags,
            merged=tuple((a.email, a.reason) for a in extra),
        )
    name = derived.names.get(canonical) or canonical
    merged = identity.merged(canonical)
    return Person(
        id=pid,
        name=name,
        emails=(canonical, *(a.email for a in merged)),
        merged=tuple((a.email, a.reason) for a in merged),
    )


def load_messages(store: Store, as_of: datetime) -> list[MessageRecord]:
    """Every message dated up to ``as_of``, oldest first, with its recipients and references."""
    # Recipients by message: [to, cc, bcc, delivered], filled from one pass over the table.
    recipients: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {}
    for address in store.iter_addresses():
        lists = recipients.get(address.key)
        if lists is None:
            lists = recipients[address.key] = ([], [], [], [])
        index = _ROLES.get(address.role)
        if index is not None:
            lists[index].append(address.email)
    refs: dict[str, list[str]] = {}
    for ref in store.iter_refs():
        found = refs.get(ref.key)
        if found is None:
            refs[ref.key] = [ref.ref]
        else:
            found.append(ref.ref)
    none = ((), (), (), ())
    out = []
    for m in store.iter_messages(as_of.astimezone(UTC)):
        to, cc, bcc, delivered = recipients.pop(m.key, none)
        out.append(
            MessageRecord(
                m.key, m.date, m.sender, m.sender_name, m.automated, tuple(to), tuple(cc),
                tuple(bcc), tuple(delivered), tuple(refs.pop(m.key, ())), m.in_reply_to, m.topic,
                m.conversation, m.reply, m.from_trusted,
            )
        )  # fmt: skip
    return out


_ROLES = {"to": 0, "cc": 1, "bcc": 2, "delivered": 3}


def load_meetings(store: Store, as_of: datetime) -> list[MeetingRecord]:
    grouped: dict[str, list[MeetingRow]] = {}
    for row in store.iter_meetings(as_of.astimezone(UTC)):
        grouped.setdefault(row.key, []).append(row)
    return [
        MeetingRecord(
            key=key,
            start=rows[0].start,
            organizer=rows[0].organizer,
            status=rows[0].status,
            attendees=tuple((r.email, r.name or "", r.partstat) for r in rows),
        )
        for key, rows in grouped.items()
    ]
