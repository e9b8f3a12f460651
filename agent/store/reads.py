"""Reading the store: typed rows, and the one place where reading differs by database.

Bulk reads (every message, recipient, reference and meeting, on every digest) go through
``bulk``. On SQLite it runs the compiled query on the driver's cursor in chunks and converts
the few typed columns (dates, booleans) itself, because SQLAlchemy's per-row processing costs
more than SQLite's own reading; elsewhere SQLAlchemy streams the rows. Either way the caller
gets the same typed rows, with timezone-aware UTC dates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Boolean, Engine, Select, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from agent.core.model import Card, Decision, PartialDate
from agent.store import schema as s

BATCH = 5000  # rows per fetch: memory stays flat, round trips stay few


class MessageRow(NamedTuple):
    key: str
    date: datetime  # timezone-aware UTC
    sender: str | None
    sender_name: str | None
    automated: str | None  # why it is not a relationship, or None
    recipient_count: int  # the largest copy's, recipients past the kept 100 per field too
    in_reply_to: str | None
    topic: str | None  # keyed hash of the normalised subject
    conversation: str | None
    reply: bool
    from_trusted: bool


class AddressRow(NamedTuple):
    key: str
    role: str  # to | cc | bcc | delivered | list
    email: str
    name: str | None


class RefRow(NamedTuple):
    key: str
    ref: str


class MeetingRow(NamedTuple):
    """One attendee of one meeting occurrence."""

    key: str
    start: datetime  # timezone-aware UTC
    organizer: str | None
    status: str
    email: str
    name: str | None
    partstat: str


@dataclass(frozen=True)
class SyncRun:
    source: str
    started_at: datetime
    finished_at: datetime | None
    new_count: int
    ok: bool
    error: str | None


Row = TypeVar("Row", bound=tuple[Any, ...])


def bulk(engine: Engine, query: Select[Any], row: Callable[..., Row]) -> Iterator[Row]:
    """Every row of ``query`` as ``row(*values)``, streamed in chunks of BATCH."""
    if engine.dialect.name == "sqlite":
        yield from _sqlite_rows(engine, query, row)
        return
    with engine.connect() as conn:
        for values in conn.execution_options(yield_per=BATCH).execute(query):
            yield row(*values)


def _sqlite_rows(engine: Engine, query: Select[Any], row: Callable[..., Row]) -> Iterator[Row]:
    dialect = engine.dialect
    compiled = query.compile(dialect=dialect)
    params = tuple(_bound(compiled, name, dialect) for name in compiled.positiontup or ())
    fixes = [(i, fix) for i, c in enumerate(query.selected_columns) if (fix := _sqlite_fix(c.type))]
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.string, params)
            while chunk := cursor.fetchmany(BATCH):
                for raw in chunk:
                    if fixes:
                        raw = list(raw)
                        for i, fix in fixes:
                            raw[i] = fix(raw[i])
                    yield row(*raw)
        finally:
            cursor.close()


def _bound(compiled: Any, name: str, dialect: Dialect) -> Any:
    # The parameter as SQLAlchemy would send it: through its type's bind processing.
    process = compiled.binds[name].type.bind_processor(dialect)
    value = compiled.params[name]
    return process(value) if process else value


def _sqlite_fix(column_type: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    """How a raw SQLite value of this column type becomes what SQLAlchemy would return."""
    if isinstance(column_type, s.UTCDateTime):
        return _utc
    if isinstance(column_type, Boolean):
        return bool
    return None


def _utc(value: str | None) -> datetime | None:
    # The format SQLAlchemy's SQLite DateTime stores; every stored time is UTC.
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


class Reads:
    """Every read of the store; Store (database.py) adds the writes."""

    engine: Engine

    def iter_messages(self, until: datetime | None = None) -> Iterator[MessageRow]:
        """Every message, oldest first, dated at or before ``until``."""
        m = s.messages.c
        query = select(*(m[c] for c in MessageRow._fields)).order_by(m.date, m.key)
        if until is not None:
            query = query.where(m.date <= until)
        return bulk(self.engine, query, MessageRow)

    def iter_addresses(self) -> Iterator[AddressRow]:
        """Every message's recipients (and Delivered-To and list addresses)."""
        a = s.message_addresses.c
        return bulk(self.engine, select(a.key, a.role, a.email, a.name), AddressRow)

    def iter_refs(self) -> Iterator[RefRow]:
        r = s.message_refs.c
        return bulk(self.engine, select(r.key, r.ref), RefRow)

    def cards(self) -> list[Card]:
        """Every address book card, with its addresses, in a stable order."""
        emails: dict[tuple[str, str], list[str]] = {}
        with self.engine.connect() as conn:
            ce = s.card_emails.c
            for source, uid, email in conn.execute(
                select(ce.source, ce.uid, ce.email).order_by(ce.source, ce.uid, ce.email)
            ):
                emails.setdefault((source, uid), []).append(email)
            c = s.cards.c
            rows = list(conn.execute(select(s.cards).order_by(c.source, c.uid)))
        return [
            Card(
                uid=r.uid, name=r.name, emails=tuple(emails.get((r.source, r.uid), ())),
                categories=tuple(t for t in r.categories.split(",") if t),
                birthday=_partial(r.birthday), anniversary=_partial(r.anniversary),
            )
            for r in rows
        ]  # fmt: skip

    def digest_message_ids(self) -> dict[str, tuple[str, datetime]]:
        """Message-ID (without <>) of every digest sent -> its period and when it was sent."""
        g = s.digests.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(g.message_id, g.period, g.sent_at))
            return {str(m).strip("<>"): (str(p), at) for m, p, at in rows if m}

    def digest_items(self, period: str) -> dict[int, tuple[str, str]]:
        """number -> (rule, person) of the digest sent for ``period``."""
        i = s.digest_items.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(i.number, i.rule, i.person).where(i.period == period))
            return {int(n): (str(r), str(p)) for n, r, p in rows}

    def reply_candidates(
        self, parents: set[str], senders: set[str]
    ) -> list[tuple[str, str, str, str, str]]:
        """Messages from ``senders`` answering one of ``parents`` (Message-IDs): (key, the
        parent, source, folder, location), one place each."""
        m, r, loc = s.messages.c, s.message_refs.c, s.locations.c
        wanted = [p for p in parents if p]
        if not wanted or not senders:
            return []
        by_reply = select(m.key, m.in_reply_to).where(m.in_reply_to.in_(wanted))
        by_ref = select(r.key, r.ref).where(r.ref.in_(wanted))
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for key, parent in [*conn.execute(by_reply), *conn.execute(by_ref)]:
                found.setdefault(str(key), str(parent))
            if not found:
                return []
            mine = select(m.key).where(m.key.in_(list(found)), m.sender.in_(list(senders)))
            keys = set(conn.execute(mine).scalars())
            places = select(loc.key, loc.source, loc.folder, loc.location).where(
                loc.key.in_(list(keys))
            )
            out: dict[str, tuple[str, str, str, str, str]] = {}
            for key, source, folder, location in conn.execute(places):
                out.setdefault(key, (key, found[key], source, folder, location))
        return sorted(out.values())

    def replied(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(s.digest_replies.c.key)).scalars())

    def pending_outcomes(self) -> list[tuple[int, str, str | None]]:
        """(id, line, what was done or None) of reply lines no digest has reported yet."""
        o = s.reply_outcomes.c
        query = select(o.id, o.line, o.done).where(o.reported.is_(False)).order_by(o.id)
        with self.engine.connect() as conn:
            return [(int(a), str(b), c) for a, b, c in conn.execute(query)]

    def decisions(self) -> list[Decision]:
        """Every decision still in force (not undone), oldest first."""
        d = s.decisions.c
        query = select(s.decisions).where(d.undone.is_(False)).order_by(d.id)
        with self.engine.connect() as conn:
            return [
                Decision(
                    action=r.action, person=r.person, rule=r.rule, until=r.until, value=r.value,
                    note=r.note, day=r.day, made_at=r.made_at, origin=r.origin, id=r.id,
                )
                for r in conn.execute(query)
            ]  # fmt: skip

    def iter_meetings(self, until: datetime | None = None) -> Iterator[MeetingRow]:
        """One row per attendee of every meeting starting at or before ``until``."""
        mt, at = s.meetings.c, s.meeting_attendees.c
        query = (
            select(mt.key, mt.start, mt.organizer, mt.status, at.email, at.name, at.partstat)
            .join(s.meeting_attendees, at.key == mt.key)
            .order_by(mt.start, mt.key)
        )
        if until is not None:
            query = query.where(mt.start <= until)
        return bulk(self.engine, query, MeetingRow)

    def known_locations(self, source: str, folder: str, validity: str = "") -> set[str]:
        """Locations already stored for a folder (Maildir's incremental state)."""
        query = select(s.locations.c.location).where(
            s.locations.c.source == source,
            s.locations.c.folder == folder,
            s.locations.c.validity == validity,
        )
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def has_data(self) -> bool:
        """Whether any sync has stored a message or a meeting."""
        with self.engine.connect() as conn:
            for table in (s.messages, s.meetings):
                if conn.execute(select(table.c.key).limit(1)).first() is not None:
                    return True
        return False

    def message_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.messages)).scalar() or 0)

    def get_cursor(self, source: str, folder: str) -> dict[str, Any] | None:
        query = select(s.cursors.c.state).where(
            s.cursors.c.source == source, s.cursors.c.folder == folder
        )
        with self.engine.connect() as conn:
            state = conn.execute(query).scalar()
        return json.loads(state) if state else None

    def named_addresses(self) -> Iterator[tuple[str, str, int]]:
        """(address, display name, messages) for every name an address was seen with, as a
        sender or a recipient: what merging one person's addresses by name reads."""
        m, a = s.messages.c, s.message_addresses.c
        senders = (
            select(m.sender, m.sender_name, func.count())
            .where(m.sender_name.is_not(None), m.automated.is_(None))
            .group_by(m.sender, m.sender_name)
        )
        recipients = (
            select(a.email, a.name, func.count())
            .where(a.name.is_not(None), a.role.in_(("to", "cc", "bcc")))
            .group_by(a.email, a.name)
        )
        with self.engine.connect() as conn:
            for query in (senders, recipients):
                for email, name, count in conn.execute(query):
                    if email and name:
                        yield str(email), str(name), int(count)

    def own_address_candidates(self, sent_folders: Iterable[str]) -> dict[str, int]:
        """Addresses that look like the user's own, with how many messages show it: senders
        of mail stored in a Sent folder, and Delivered-To / X-Original-To values."""
        m, a, loc = s.messages.c, s.message_addresses.c, s.locations.c
        sent = (
            select(m.sender, func.count(func.distinct(m.key)))
            .join(s.locations, loc.key == m.key)
            .where(func.lower(loc.folder).in_([f.lower() for f in sent_folders]))
            .group_by(m.sender)
        )
        delivered = select(a.email, func.count()).where(a.role == "delivered").group_by(a.email)
        found: dict[str, int] = {}
        with self.engine.connect() as conn:
            for query in (sent, delivered):
                for email, count in conn.execute(query):
                    if email:
                        found[str(email)] = found.get(str(email), 0) + int(count)
        return found

    def stored_folders(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(s.locations.c.folder).distinct()).scalars())

    def sender_reasons(self, email: str) -> dict[str, int]:
        """How many messages from ``email`` there are, by why they are automated ("" for
        personal mail): what `agent person` says about an address that is not a person."""
        m = s.messages.c
        query = (
            select(m.automated, func.count()).where(m.sender == email.lower()).group_by(m.automated)
        )
        with self.engine.connect() as conn:
            return {str(reason or ""): int(count) for reason, count in conn.execute(query)}

    def personal_senders(self) -> set[str]:
        """Addresses that sent mail with no sign of automation (no list or bulk headers)."""
        m = s.messages.c
        query = select(m.sender).where(m.automated.is_(None), m.sender.is_not(None)).distinct()
        with self.engine.connect() as conn:
            return {str(e) for e in conn.execute(query).scalars()}

    def list_addresses(self) -> set[str]:
        """Addresses seen as a mailing list's own (List-Post / List-Id): never people."""
        a = s.message_addresses.c
        query = select(a.email).where(a.role == "list").distinct()
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(query)}

    def last_runs(self) -> dict[str, SyncRun]:
        """The latest sync run per source."""
        latest = (
            select(s.sync_runs.c.source, func.max(s.sync_runs.c.id).label("id"))
            .group_by(s.sync_runs.c.source)
            .subquery()
        )
        query = select(s.sync_runs).join(latest, latest.c.id == s.sync_runs.c.id)
        with self.engine.connect() as conn:
            return {r.source: _sync_run(r) for r in conn.execute(query)}

    def recent_errors(self, limit: int = 10) -> list[SyncRun]:
        query = (
            select(s.sync_runs)
            .where(s.sync_runs.c.error.is_not(None))
            .order_by(s.sync_runs.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_sync_run(r) for r in conn.execute(query)]

    def digest_sent(self, period: str) -> bool:
        query = select(func.count()).select_from(s.digests).where(s.digests.c.period == period)
        with self.engine.connect() as conn:
            return bool(conn.execute(query).scalar())

    def last_digest(self) -> dict[str, Any] | None:
        query = select(s.digests).order_by(s.digests.c.sent_at.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return {
            "period": row.period,
            "sent_at": row.sent_at,
            "message_id": row.message_id,
            "recipient": row.recipient,
            "findings": row.findings,
        }


def _partial(text: str | None) -> PartialDate | None:
    if not text:
        return None
    if text.startswith("--"):
        return PartialDate(int(text[2:4]), int(text[5:7]))
    return PartialDate(int(text[5:7]), int(text[8:10]), int(text[:4]))


def _sync_run(r: Any) -> SyncRun:
    return SyncRun(r.source, r.started_at, r.finished_at, r.new_count, bool(r.ok), r.error)
