"""The store: SQLAlchemy Core over SQLite (default) or PostgreSQL.

Idempotent by construction: every write is insert-or-ignore on a natural key, and a
connector's cursor is written in the same transaction as the rows it covers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import operator
import os
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from agent.core.model import (
    LIST_REASON,
    Address,
    Card,
    Decision,
    Located,
    MeetingMeta,
    MessageMeta,
)
from agent.errors import OperationError, UserError
from agent.store import schema as s
from agent.store.reads import Reads

log = logging.getLogger(__name__)

# How long SQLite waits for another writer (a daemon's batch) before giving up.
BUSY_TIMEOUT_MS = 10_000
# Keep each statement under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 500
# Column widths (agent/store/schema.py). PostgreSQL enforces them: values are fitted on the way in.
ID_WIDTH = 512
EMAIL_WIDTH = 320
NAME_WIDTH = 512
LOCATION_WIDTH = 255
MEETING_KEY_WIDTH = 700
# The columns a copy read again may improve (see _better_row).
_MERGED = ("key", "date", "date_source", "automated", "recipient_count", "topic",
           "conversation", "reply", "from_trusted")  # fmt: skip
# A copy whose date came from its Date header beats one dated by INTERNALDATE or mtime.
_DATE_RANK = {"header": 2, "fallback": 1, "none": 0}


class Store(Reads):
    """Open with ``Store.open(url)``; every public method is one transaction."""

    def __init__(self, engine: Engine, readonly: bool = False) -> None:
        self.engine = engine
        self.readonly = readonly
        self._compiled: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._topic_key: bytes | None = None

    @classmethod
    def open(cls, url: str, readonly: bool = False) -> Store:
        """Open (creating and migrating as needed) the database at ``url``.

        ``readonly``: open an existing SQLite database without writing a byte (a read-only
        file or directory): no migration, no journal change, and person ids not yet stored
        are numbered for this run only.
        """
        engine = _create_engine(url, readonly)
        try:
            old = _readonly_version(engine) if readonly else _migrate(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            reason = getattr(exc, "orig", None) or exc
            raise OperationError(f"cannot open database {_safe_url(url)}: {reason}") from None
        except UserError:
            engine.dispose()
            raise
        if old != s.CURRENT_VERSION:
            log.info("database schema migrated from version %d to %d", old, s.CURRENT_VERSION)
        return cls(engine, readonly)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- mail ---------------------------------------------------------------------------

    def ingest(
        self,
        source: str,
        folder: str,
        validity: str,
        found: Sequence[Located],
        cursor: dict[str, Any] | None = None,
        *,
        sent: bool = False,
        all_mail: bool = False,
    ) -> int:
        """Record messages seen at (source, folder, validity) and advance the folder's cursor.

        ``sent``: the folder is a Sent folder (the connector knows: IMAP's \\Sent flag, a name).
        Mail "from me" is trusted as mine only with a copy in a Sent folder or an authenticated
        From (DESIGN.md): anyone can put my address in From. ``all_mail``: Gmail's All Mail,
        where my sent mail lives too; there a message that came in from outside (it carries
        Authentication-Results) is trusted only if it passed.

        One transaction: either the messages and the cursor are stored, or neither.
        Returns how many messages were new to the database (not just to this folder).
        A copy seen again adds its addresses (a Sent copy carries the Bcc an INBOX copy lacks),
        raises the stored recipient count to the largest copy's, and replaces a fallback date
        with a Date header's.
        """
        trust = _Trust(sent, all_mail)
        with self.engine.begin() as conn:
            new = self._ingest(conn, source, folder, validity, found, trust)
            if cursor is not None:
                self._set_cursor(conn, source, folder, cursor)
        return new

    def _ingest(
        self,
        conn: Connection,
        source: str,
        folder: str,
        validity: str,
        found: Sequence[Located],
        trust: _Trust,
    ) -> int:
        new = 0
        for start in range(0, len(found), CHUNK):
            part = found[start : start + CHUNK]
            known = self._known_messages(conn, {_fit_id(item.meta.key) for item in part})
            chunk, moved = _own_keys(part, known)
            if moved:  # reused Message-IDs, rare: their own keys may be stored already too
                known.update(self._known_messages(conn, moved))
            rows: dict[str, dict[str, Any]] = {}
            topic_key = self._topic_hash_key(conn)
            for item in chunk:
                row = _message_row(item.meta, topic_key, trust.of(item.meta))
                rows[row["key"]] = _better_row(rows.get(row["key"]), row)
            fresh = [row for key, row in rows.items() if key not in known]
            new += len(fresh)
            self._insert_ignore(conn, s.messages, fresh)
            for key, row in rows.items():
                if key in known:
                    merged = _better_row(known[key], row)
                    if merged is not known[key]:
                        self._update_message(conn, merged)
            self._insert_ignore(conn, s.message_addresses, _address_rows(chunk))
            self._insert_ignore(conn, s.message_refs, _ref_rows(chunk))
            self._insert_ignore(conn, s.locations, _location_rows(source, folder, validity, chunk))
        return new

    def _topic_hash_key(self, conn: Connection) -> bytes:
        if self._topic_key is None:
            query = select(s.store_keys.c.value).where(s.store_keys.c.name == "topic")
            value = conn.execute(query).scalar()
            if value is None:
                raise OperationError("the database has no topic key: it was not migrated")
            self._topic_key = bytes.fromhex(value)
        return self._topic_key

    def _known_messages(self, conn: Connection, keys: set[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        m = s.messages.c
        query = select(*(m[c] for c in _MERGED), m.sender).where(m.key.in_(keys))
        return {row.key: dict(row._mapping) for row in conn.execute(query)}

    def _update_message(self, conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(
            update(s.messages)
            .where(s.messages.c.key == row["key"])
            .values({c: row[c] for c in _MERGED if c != "key"})
        )

    def _insert_ignore(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.dialect != "sqlite":
            # PostgreSQL: SQLAlchemy batches these into multi-row INSERTs (insertmanyvalues).
            conn.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
            return
        # SQLite: the driver's executemany on plain tuples. Core would build and process a
        # parameter dict per row, which costs more than SQLite's own work here.
        keys = tuple(rows[0])
        sql, processors = self._sqlite_insert(table, keys)
        get = operator.itemgetter(*keys)
        if len(keys) == 1:
            params: list[tuple[Any, ...]] = [(get(r),) for r in rows]
        else:
            params = [get(r) for r in rows]
        for index, process in processors:
            params = [(*p[:index], process(p[index]), *p[index + 1 :]) for p in params]
        conn.exec_driver_sql(sql, params)

    def _sqlite_insert(
        self, table: Table, keys: tuple[str, ...]
    ) -> tuple[str, list[tuple[int, Callable[[Any], Any]]]]:
        """INSERT ... ON CONFLICT DO NOTHING for these columns, compiled once, and the bind
        processors (the column types' own, e.g. UTCDateTime) by parameter position."""
        cached = self._compiled.get((table.name, keys))
        if cached is None:
            dialect = self.engine.dialect
            stmt = sqlite.insert(table).values({k: bindparam(k) for k in keys})
            compiled = stmt.on_conflict_do_nothing().compile(dialect=dialect)
            if compiled.positiontup != list(keys):
                raise RuntimeError(f"unexpected parameter order for {table.name}")
            processors: list[tuple[int, Callable[[Any], Any]]] = []
            for index, key in enumerate(keys):
                process = table.c[key].type.bind_processor(dialect)
                if process is not None:
                    processors.append((index, process))
            cached = self._compiled[(table.name, keys)] = (compiled.string, processors)
        return cached

    # -- cursors ------------------------------------------------------------------------

    def set_cursor(self, source: str, folder: str, state: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            self._set_cursor(conn, source, folder, state)

    def _set_cursor(
        self, conn: Connection, source: str, folder: str, state: dict[str, Any]
    ) -> None:
        where = (s.cursors.c.source == source) & (s.cursors.c.folder == folder)
        conn.execute(delete(s.cursors).where(where))
        row = {
            "source": source,
            "folder": folder,
            "state": json.dumps(state, sort_keys=True),
            "updated_at": _now(),
        }
        conn.execute(s.cursors.insert().values(**row))

    # -- calendars ----------------------------------------------------------------------

    def replace_meetings(
        self,
        source: str,
        found: Iterable[MeetingMeta],
        cursor: dict[str, Any] | None = None,
        *,
        only_keys: set[str] | None = None,
        full: bool = True,
    ) -> int:
        """Store meetings from a calendar source; return how many keys are new to the database.

        ``full=True``: ``found`` is everything the source holds now, so this source's other
        meetings are removed (an event deleted upstream disappears). ``full=False``: an
        incremental change set; ``only_keys`` are keys to delete (events removed upstream).
        """
        found = list({m.key: m for m in (_fit_meeting(m) for m in found)}.values())
        only_keys = {_fit(k, MEETING_KEY_WIDTH, hashed=True) for k in only_keys or ()}
        with self.engine.begin() as conn:
            before = self._meeting_keys(conn, source)
            existing = self._known_meeting_keys(conn, {m.key for m in found})
            gone = before - {m.key for m in found} if full else set(only_keys or ())
            self._delete_meetings(conn, gone | {m.key for m in found})
            self._insert_meetings(conn, source, found)
            if cursor is not None:
                self._set_cursor(conn, source, "", cursor)
        return len({m.key for m in found} - existing)

    def _meeting_keys(self, conn: Connection, source: str) -> set[str]:
        query = select(s.meetings.c.key).where(s.meetings.c.source == source)
        return set(conn.execute(query).scalars())

    def _known_meeting_keys(self, conn: Connection, keys: set[str]) -> set[str]:
        out: set[str] = set()
        ordered = sorted(keys)
        for start in range(0, len(ordered), CHUNK):
            part = ordered[start : start + CHUNK]
            query = select(s.meetings.c.key).where(s.meetings.c.key.in_(part))
            out.update(conn.execute(query).scalars())
        return out

    def _delete_meetings(self, conn: Connection, keys: set[str]) -> None:
        ordered = sorted(keys)
        for start in range(0, len(ordered), CHUNK):
            part = ordered[start : start + CHUNK]
            conn.execute(delete(s.meeting_attendees).where(s.meeting_attendees.c.key.in_(part)))
            conn.execute(delete(s.meetings).where(s.meetings.c.key.in_(part)))

    def _insert_meetings(self, conn: Connection, source: str, found: list[MeetingMeta]) -> None:
        rows = [
            {
                "key": m.key,
                "source": source,
                "start": m.start,
                "organizer": _email(m.organizer),
                "status": m.status,
            }
            for m in found
        ]
        attendees = [
            {"key": m.key, "email": a.email, "name": _name(a.name), "partstat": a.partstat}
            for m in found
            for a in {a.email: a for a in m.attendees}.values()
            if _email(a.email)
        ]
        for start in range(0, max(len(rows), len(attendees)), CHUNK):
            self._insert_ignore(conn, s.meetings, rows[start : start + CHUNK])
            self._insert_ignore(conn, s.meeting_attendees, attendees[start : start + CHUNK])

    # -- address books ------------------------------------------------------------------

    def replace_cards(
        self, source: str, found: Iterable[Card], cursor: dict[str, Any] | None = None
    ) -> int:
        """Store everything an address book holds now: its other cards go (a deleted card stops
        merging its addresses). Returns how many cards are new to this source."""
        cards = list({_fit(c.uid, LOCATION_WIDTH, hashed=True): c for c in found}.items())
        rows = [
            {"source": source, "uid": uid, "name": _name(c.name) or "",
             "categories": ",".join(c.categories)[:1024],
             "birthday": c.birthday.text() if c.birthday else None,
             "anniversary": c.anniversary.text() if c.anniversary else None}
            for uid, c in cards
        ]  # fmt: skip
        emails = [
            {"source": source, "uid": uid, "email": e}
            for uid, c in cards
            for e in dict.fromkeys(x for x in (_email(e) for e in c.emails) if x)
        ]
        with self.engine.begin() as conn:
            before = set(
                conn.execute(select(s.cards.c.uid).where(s.cards.c.source == source)).scalars()
            )
            conn.execute(delete(s.card_emails).where(s.card_emails.c.source == source))
            conn.execute(delete(s.cards).where(s.cards.c.source == source))
            for start in range(0, max(len(rows), len(emails)), CHUNK):
                self._insert_ignore(conn, s.cards, rows[start : start + CHUNK])
                self._insert_ignore(conn, s.card_emails, emails[start : start + CHUNK])
            if cursor is not None:
                self._set_cursor(conn, source, "", cursor)
        return len({uid for uid, _ in cards} - before)

    # -- decisions ----------------------------------------------------------------------

    def add_decision(self, decision: Decision) -> int:
        row = {
            "action": decision.action, "person": decision.person.lower(), "rule": decision.rule,
            "until": decision.until, "value": (decision.value or None) and decision.value[:512],
            "note": (decision.note or None) and decision.note[:2000], "day": decision.day,
            "made_at": decision.made_at or _now(), "origin": decision.origin, "undone": False,
        }  # fmt: skip
        with self.engine.begin() as conn:
            result = conn.execute(s.decisions.insert().values(**row))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def record_items(self, period: str, items: Iterable[tuple[int, str, str]]) -> None:
        """What a sent digest numbered: (number, rule, person's first address)."""
        rows = [{"period": period, "number": n, "rule": r, "person": p} for n, r, p in items]
        with self.engine.begin() as conn:
            conn.execute(delete(s.digest_items).where(s.digest_items.c.period == period))
            self._insert_ignore(conn, s.digest_items, rows)

    def claim_reply(self, key: str, period: str) -> bool:
        """Mark a reply applied; False when it already was (synced from another folder)."""
        stmt_rows = [{"key": _fit_id(key), "period": period, "applied_at": _now()}]
        with self.engine.begin() as conn:
            known = conn.execute(
                select(s.digest_replies.c.key).where(s.digest_replies.c.key == _fit_id(key))
            ).first()
            if known is not None:
                return False
            self._insert_ignore(conn, s.digest_replies, stmt_rows)
        return True

    def add_outcomes(self, outcomes: Iterable[tuple[str, str | None]]) -> None:
        rows = [{"at": _now(), "line": line[:300], "done": (done or None) and done[:300],
                 "reported": False} for line, done in outcomes]  # fmt: skip
        if rows:
            with self.engine.begin() as conn:
                conn.execute(s.reply_outcomes.insert(), rows)

    def mark_outcomes_reported(self, ids: Iterable[int]) -> None:
        wanted = list(ids)
        if not wanted:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(s.reply_outcomes).where(s.reply_outcomes.c.id.in_(wanted))
                .values(reported=True)
            )  # fmt: skip

    def undo_decision(self, decision_id: int) -> bool:
        """Take a decision back; False when there is no such (active) decision."""
        d = s.decisions.c
        with self.engine.begin() as conn:
            result = conn.execute(
                update(s.decisions).where(d.id == decision_id, d.undone.is_(False))
                .values(undone=True)
            )  # fmt: skip
        return bool(result.rowcount)

    # -- people ids ---------------------------------------------------------------------

    def person_ids(self, canonicals: Iterable[str]) -> dict[str, int]:
        """Stable integer ids for canonical person keys, created on first sight."""
        wanted = set(canonicals)
        if self.readonly:
            return self._ids_for_this_run(wanted)
        with self.engine.begin() as conn:
            ids = self._person_ids(conn, wanted)
            missing = wanted - ids.keys()
            if missing:
                self._insert_ignore(conn, s.people, [{"canonical": c} for c in sorted(missing)])
                ids.update(self._person_ids(conn, missing))
        return ids

    def _ids_for_this_run(self, wanted: set[str]) -> dict[str, int]:
        # A read-only database cannot keep new ids: number newcomers after the stored ones.
        with self.engine.connect() as conn:
            ids = self._person_ids(conn, wanted)
            top = conn.execute(select(func.max(s.people.c.id))).scalar() or 0
        for offset, canonical in enumerate(sorted(wanted - ids.keys()), 1):
            ids[canonical] = int(top) + offset
        return ids

    def _person_ids(self, conn: Connection, wanted: set[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        ordered = sorted(wanted)
        for start in range(0, len(ordered), CHUNK):
            part = ordered[start : start + CHUNK]
            query = select(s.people.c.canonical, s.people.c.id).where(
                s.people.c.canonical.in_(part)
            )
            out.update({c: int(i) for c, i in conn.execute(query)})
        return out

    # -- sync runs and digests ----------------------------------------------------------

    def start_run(self, source: str) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                s.sync_runs.insert().values(source=source, started_at=_now(), new_count=0, ok=False)
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(
        self, run_id: int, new_count: int, error: str | None = None, timeout: float | None = None
    ) -> None:
        """Close a sync run. ``timeout``: wait at most this long for the database (SQLite's
        busy timeout), as when recording an interrupted run on the way out."""
        short = timeout is not None and self.dialect == "sqlite"
        with self.engine.begin() as conn:
            if short:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {int((timeout or 0) * 1000)}")
            try:
                conn.execute(
                    s.sync_runs.update()
                    .where(s.sync_runs.c.id == run_id)
                    .values(finished_at=_now(), new_count=new_count, ok=error is None, error=error)
                )
            finally:
                if short:  # the pooled connection keeps its usual patience afterwards
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def record_digest(
        self, period: str, message_id: str, recipient: str, findings: int, sent_at: datetime
    ) -> bool:
        """Record a sent digest; False if this period was already recorded.

        Insert-or-ignore on the period, so two processes racing for one period cannot both win.
        """
        row = {
            "period": period,
            "sent_at": sent_at,
            "message_id": message_id,
            "recipient": recipient,
            "findings": findings,
        }
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        stmt = dialect.insert(s.digests).values(**row).on_conflict_do_nothing()
        with self.engine.begin() as conn:
            if not self.engine.dialect.insert_returning:  # SQLite before 3.35
                return int(conn.execute(stmt).rowcount) == 1
            # psycopg reports rowcount -1 here: ask for the inserted key instead.
            return conn.execute(stmt.returning(s.digests.c.period)).first() is not None


@dataclass(frozen=True)
class _Trust:
    """Where a folder's mail "from me" is believed to be mine."""

    sent: bool
    all_mail: bool

    def of(self, meta: MessageMeta) -> bool:
        if self.sent or meta.authenticated:
            return True
        return self.all_mail and not meta.inbound


Owner = tuple[str | None, datetime, str]  # sender, date, date_source


def _own_keys(
    chunk: Sequence[Located], known: dict[str, dict[str, Any]]
) -> tuple[list[Located], set[str]]:
    """The chunk with each message under its own key, and the keys that were moved.

    A Message-ID already stored (``known``) or seen earlier in the chunk for another sender
    or Date is someone reusing it: that message gets a key of its own, so it can neither
    replace nor merge into the first.
    """
    owners: dict[str, Owner] = {
        key: (row["sender"], row["date"], row["date_source"]) for key, row in known.items()
    }
    out: list[Located] = []
    moved: set[str] = set()
    for item in chunk:
        meta = item.meta
        key = _fit_id(meta.key)
        mine = _identity_of(meta)
        owner = owners.setdefault(key, mine)
        if owner is not mine and not _same_message(owner, mine):
            key = _fit_id(f"{meta.key}#{_identity_hash(mine)}")
            moved.add(key)
            item = dataclasses.replace(item, meta=dataclasses.replace(meta, key=key))
        out.append(item)
    return out, moved


def _identity_of(meta: MessageMeta) -> Owner:
    return (_email(meta.sender.email) if meta.sender else None, meta.date, meta.date_source)


def _same_message(a: Owner, b: Owner) -> bool:
    """Copies of one message: the same sender, and the same Date where both have one (a copy
    dated by INTERNALDATE or mtime says nothing about the Date it lacks)."""
    if a[0] != b[0]:
        return False
    if a[2] == "header" and b[2] == "header" and a[1] is not None and b[1] is not None:
        return abs((a[1] - b[1]).total_seconds()) < 1
    return True


def _identity_hash(owner: Owner) -> str:
    when = owner[1].isoformat() if owner[2] == "header" and owner[1] is not None else ""
    basis = f"{owner[0]}\0{when}"
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _message_row(meta: MessageMeta, topic_key: bytes, trusted: bool = False) -> dict[str, Any]:
    sender = _email(meta.sender.email) if meta.sender else None
    return {
        "key": _fit_id(meta.key),
        "date": meta.date,
        "date_source": meta.date_source,
        "sender": sender,
        "sender_name": _name(meta.sender.name) if sender and meta.sender else None,
        "automated": meta.automated,
        "recipient_count": len(meta.recipients) + meta.recipients_dropped,
        "in_reply_to": _fit_id(meta.in_reply_to) if meta.in_reply_to else None,
        "topic": topic_hash(meta.topic, topic_key),
        "conversation": meta.conversation,
        "reply": meta.reply,
        "from_trusted": trusted,
    }


def _better_row(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """``old`` unless ``new`` has a better-sourced date, more recipients, or no list headers
    where ``old`` had them (then a merge), so the result never depends on sync order."""
    if old is None:
        return new
    old_rank, new_rank = _DATE_RANK.get(old["date_source"], 0), _DATE_RANK.get(new["date_source"])
    better_date = new_rank is not None and new_rank > old_rank
    unlisted = old["automated"] == LIST_REASON and new["automated"] is None
    more = new["recipient_count"] > old["recipient_count"]
    trusted = bool(new.get("from_trusted")) and not old.get("from_trusted")
    if not (better_date or unlisted or more or trusted):
        return old
    merged = dict(old)
    if trusted:  # this copy is in Sent (or authenticated): the message is mine
        merged["from_trusted"] = True
    if better_date:
        merged.update(date=new["date"], date_source=new["date_source"])
    if unlisted:
        merged["automated"] = None
    merged["recipient_count"] = max(old["recipient_count"], new["recipient_count"])
    return merged


def topic_hash(topic: str | None, key: bytes) -> str | None:
    """A keyed hash of a normalised subject: equal topics compare equal, the text is gone."""
    if topic is None:
        return None
    digest = hmac.new(key, topic.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()[:32]


def _address_rows(chunk: Sequence[Located]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in chunk:
        m = item.meta
        key = _fit_id(m.key)
        delivered = tuple(Address(email) for email in m.delivered_to)
        groups: tuple[tuple[str, tuple[Address, ...]], ...] = (
            ("to", m.to),
            ("cc", m.cc),
            ("bcc", m.bcc),
            ("delivered", delivered),
            ("list", (Address(m.list_address),) if m.list_address else ()),
        )
        for role, addresses in groups:
            for a in addresses:
                email = _email(a.email)
                if email and (key, role, email) not in rows:
                    row = {"key": key, "role": role, "email": email, "name": _name(a.name)}
                    rows[(key, role, email)] = row
    return list(rows.values())


def _ref_rows(chunk: Sequence[Located]) -> list[dict[str, Any]]:
    rows = {}
    for item in chunk:
        m = item.meta
        key = _fit_id(m.key)
        refs = {_fit_id(r) for r in m.references if r}
        if m.in_reply_to:
            refs.add(_fit_id(m.in_reply_to))
        for ref in refs:
            rows[(key, ref)] = {"key": key, "ref": ref}
    return list(rows.values())


def _location_rows(
    source: str, folder: str, validity: str, chunk: Sequence[Located]
) -> list[dict[str, Any]]:
    rows = {}
    for item in chunk:
        location = _fit(item.location, LOCATION_WIDTH, hashed=True)
        rows[location] = {
            "source": source,
            "folder": folder,
            "validity": validity,
            "location": location,
            "key": _fit_id(item.meta.key),
        }
    return list(rows.values())


def _fit(value: str, width: int, hashed: bool = False) -> str:
    """``value`` without NUL characters (PostgreSQL refuses them), fitted to a column width.

    An identifier too long is replaced by a hash, so equal values still compare equal; a
    name is cut.
    """
    value = value.replace("\x00", "")
    if len(value) <= width:
        return value
    if hashed:
        return "#" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return value[:width]


def _fit_id(value: str) -> str:
    return _fit(value, ID_WIDTH, hashed=True)


def _email(value: str | None) -> str | None:
    # RFC 5321 caps a path at 256 octets: anything longer is junk, not a person.
    if not value or len(value) > EMAIL_WIDTH:
        return None
    return _fit(value, EMAIL_WIDTH)


def _name(value: str | None) -> str | None:
    return _fit(value, NAME_WIDTH) if value else None


def _fit_meeting(m: MeetingMeta) -> MeetingMeta:
    key = _fit(m.key, MEETING_KEY_WIDTH, hashed=True)
    return m if key == m.key else dataclasses.replace(m, key=key)


def _now() -> datetime:
    return datetime.now(UTC)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``~`` expanded), or None for another backend or memory."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database or "").expanduser()


def integrity_problem(path: Path) -> str | None:
    """SQLite's own quick check of a database file, read-only: None when it is sound."""
    import sqlite3

    try:
        conn = sqlite3.connect(_readonly_uri(path), uri=True, timeout=5)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    found = [str(r[0]) for r in rows if r and r[0] != "ok"]
    return "; ".join(found[:3]) or None


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable url>"


def _create_engine(url: str, readonly: bool = False) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserError(f"[database] url: {url!r} is not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        return _readonly_engine(database) if readonly else _sqlite_engine(database)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except ImportError:
            raise UserError(
                "[database] url: PostgreSQL needs the psycopg driver: "
                "pip install 'relationship-agent[postgres]' (or pip install 'psycopg[binary]')"
            ) from None
        except SQLAlchemyError as exc:
            raise UserError(f"[database] url: {exc}") from None
    raise UserError(f"[database] url: backend {parsed.get_backend_name()!r} is not supported")


def _schema_version(conn: Connection) -> int | None:
    """The stored schema version, read without a lock; None for a database without one."""
    if not sa_inspect(conn).has_table(s.schema_version.name):
        return None
    found = conn.execute(select(s.schema_version.c.version)).scalar()
    return None if found is None else int(found)


def _readonly_version(engine: Engine) -> int:
    with engine.connect() as conn:
        version = _schema_version(conn)
    if version != s.CURRENT_VERSION:
        raise UserError(
            f"the database {_safe_url(str(engine.url))} is read-only here and needs migrating "
            f"(schema {version or 0}, this agent uses {s.CURRENT_VERSION}): run `agent sync` "
            "once as a user who can write to it"
        )
    return version


def _migrate(engine: Engine) -> int:
    """Run the schema's migrations in one transaction, all or nothing.

    SQLite's Python driver commits before every CREATE and ALTER by itself, so a process
    stopped halfway through creating a database left half a schema that the next start could
    not open. Here the driver stays out of it and one BEGIN IMMEDIATE covers every step; it
    also makes two processes that open a new database at once take turns. A database that is
    current is only read, so opening it never waits for a writer.
    """
    with engine.connect() as conn:
        version = _schema_version(conn)
        conn.rollback()
        if version == s.CURRENT_VERSION:
            return version
        if engine.dialect.name != "sqlite":
            with conn.begin():
                return s.migrate(conn)
        driver = conn.connection.dbapi_connection
        level = driver.isolation_level  # type: ignore[union-attr]
        driver.isolation_level = None  # type: ignore[union-attr]
        try:
            with conn.begin():
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return s.migrate(conn)
        finally:
            driver.isolation_level = level  # type: ignore[union-attr]


def _readonly_engine(database: str) -> Engine:
    """SQLite opened with mode=ro: nothing is written, not even the journal's shared memory
    where it exists already. A WAL database left by a clean shutdown in a directory we cannot
    write has no -shm file and cannot be opened that way; then it is opened as immutable,
    which is safe because nobody can be writing to it either."""
    path = Path(database).expanduser()
    if not path.exists():
        raise UserError(f"no database at {path} yet: `agent sync` creates it")
    engine = create_engine(f"sqlite:///{_readonly_uri(path)}&uri=true")
    event.listen(engine, "connect", _sqlite_readonly_pragmas)
    return engine


def _readonly_uri(path: Path) -> str:
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    if not writable(f"sqlite:///{path}") and not Path(f"{path}-shm").exists():
        uri += "&immutable=1"
    return uri


def _sqlite_readonly_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA query_only=ON")
    cur.close()


def writable(url: str) -> bool:
    """Whether this process may write the SQLite database at ``url`` (or create it); True for
    other backends, whose server decides."""
    path = sqlite_path(url)
    if path is None:
        return True
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    parent = next((p for p in path.parents if p.exists()), Path("/"))
    return os.access(parent, os.W_OK)


def _sqlite_engine(database: str) -> Engine:
    if database and database != ":memory:":
        path = Path(database).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                # The database holds who talks to whom: private to the user from the first byte.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise OperationError(f"cannot create the database {path}: {exc.strerror}") from None
        database = str(path)
    engine = create_engine(f"sqlite:///{database}")
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Checkpoint (and fsync) every ~40 MB of WAL rather than every 4 MB: a first sync writes
    # the whole database, and each checkpoint's fsync stalls it. Commits are not fsynced in
    # WAL mode with synchronous=NORMAL either way, so durability is unchanged.
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.close()
