"""Database schema (SQLAlchemy Core) and its versioned migrations.

Why not Alembic: one embedded database per user, migrations run by the program itself at open,
no autogenerate needed. A ``schema_version`` row and an ordered list of steps do that job in
forty lines with no extra dependency or script directory; each step runs in the transaction
that bumps the version, so a crash mid-migration leaves the old version intact.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    select,
)

from agent.errors import UserError


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    PostgreSQL keeps the offset (``timestamptz``); SQLite has no time zone type, and SQLAlchemy's
    SQLite DATETIME writes the wall-clock digits and drops the offset. Converting to UTC on the
    way in keeps comparisons (``date <= until`` with a Europe/Berlin ``until``) right there, and
    marking naive results UTC on the way out gives callers aware datetimes on both backends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, not {type(value).__name__}")
        if value.tzinfo is None:
            # Naive means UTC here, as for everything read back; PostgreSQL would otherwise
            # read it in the server's TimeZone.
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

# One row per distinct message (the key is the Message-ID or a header hash).
messages = Table(
    "messages",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("date", UTCDateTime(), nullable=False),
    Column("date_source", String(16), nullable=False),
    Column("sender", String(320)),
    Column("sender_name", String(512)),
    Column("automated", String(64)),  # why it is not a relationship, NULL when it is
    Column("recipient_count", Integer, nullable=False),
    Column("in_reply_to", String(512)),
    # Threading without References (schema 2): a keyed hash of the normalised subject, never
    # its text; Exchange's Thread-Index conversation; whether the message is a reply.
    Column("topic", String(64)),
    Column("conversation", String(64)),
    Column("reply", Boolean),
    # A copy was in a Sent folder, or my server authenticated its From: only then is mail
    # "from me" mine (anyone can write my address into From).
    Column("from_trusted", Boolean),
    Index("ix_messages_date", "date"),
)

# To, Cc, Bcc and delivered-to addresses of a message; the union over all its copies.
message_addresses = Table(
    "message_addresses",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("role", String(12), primary_key=True),  # to | cc | bcc | delivered
    Column("email", String(320), primary_key=True),
    Column("name", String(512)),
    Index("ix_message_addresses_email", "email"),
)

message_refs = Table(
    "message_refs",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("ref", String(512), primary_key=True),
)

# Where each message was seen: the idempotence key for connectors.
locations = Table(
    "locations",
    metadata,
    Column("source", String(128), primary_key=True),
    Column("folder", String(512), primary_key=True),
    Column("validity", String(64), primary_key=True),  # IMAP UIDVALIDITY; "" for Maildir
    Column("location", String(255), primary_key=True),  # UID or Maildir base name
    Column("key", String(512), nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("source", String(128), primary_key=True),
    Column("folder", String(512), primary_key=True),
    Column("state", Text, nullable=False),  # JSON, connector-specific
    Column("updated_at", UTCDateTime(), nullable=False),
)

meetings = Table(
    "meetings",
    metadata,
    Column("key", String(700), primary_key=True),  # UID + original start of the occurrence
    Column("source", String(128), nullable=False),
    Column("start", UTCDateTime(), nullable=False),
    Column("organizer", String(320)),
    Column("status", String(16), nullable=False),
    Index("ix_meetings_source", "source"),
)

meeting_attendees = Table(
    "meeting_attendees",
    metadata,
    Column("key", String(700), primary_key=True),
    Column("email", String(320), primary_key=True),
    Column("name", String(512)),
    Column("partstat", String(32), nullable=False),
)

# Stable person ids: one row per canonical key (a configured person's first address, or an address).
people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("canonical", String(320), nullable=False, unique=True),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(128), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("new_count", Integer, nullable=False, default=0),
    Column("ok", Boolean, nullable=False, default=False),
    Column("error", Text),
    Index("ix_sync_runs_source", "source", "started_at"),
)

# Keys the store keeps for itself: "topic" keys the subject hash, random per database, so a
# stored hash cannot be looked up against a list of likely subjects made elsewhere.
store_keys = Table(
    "store_keys",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", String(128), nullable=False),
)

# What digests went out: the daemon's exactly-once record (one row per period).
digests = Table(
    "digests",
    metadata,
    Column("period", String(32), primary_key=True),
    Column("sent_at", UTCDateTime(), nullable=False),
    Column("message_id", String(512), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("findings", Integer, nullable=False),
)

# Address book contacts (schema 3): one row per card, and every address on it.
cards = Table(
    "cards",
    metadata,
    Column("source", String(255), primary_key=True),
    Column("uid", String(255), primary_key=True),
    Column("name", String(512), nullable=False),
    Column("categories", String(1024), nullable=False),  # comma-joined, lower case
    Column("birthday", String(10)),  # YYYY-MM-DD, or --MM-DD without a year
    Column("anniversary", String(10)),
)

card_emails = Table(
    "card_emails",
    metadata,
    Column("source", String(255), primary_key=True),
    Column("uid", String(255), primary_key=True),
    Column("email", String(320), primary_key=True),
    Index("ix_card_emails_email", "email"),
)

# The user's decisions about people (schema 4): they survive re-syncs and can be exported.
decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(16), nullable=False),  # snooze dismiss log forget merge tag ...
    Column("person", String(320), nullable=False),  # the person's first address
    Column("rule", String(64)),
    Column("until", Date),  # snooze: hidden through this day
    Column("value", String(512)),  # tag, cadence, merged address, log kind, dismissed episode
    Column("note", String(2000)),  # the user's own words (log, forget): local, never sent
    Column("day", Date),  # log: the day of the contact
    Column("made_at", UTCDateTime(), nullable=False),
    Column("origin", String(8), nullable=False),  # cli | mail | import
    Column("undone", Boolean, nullable=False, default=False),
)

# What each sent digest numbered (schema 5): a reply's "snooze 2 3w" means this finding.
digest_items = Table(
    "digest_items",
    metadata,
    Column("period", String(32), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("person", String(320), nullable=False),
)

# Replies to a digest already applied (by message key): each is applied once, whichever
# folder or account it is synced from; and what was done, for the next digest to say.
digest_replies = Table(
    "digest_replies",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("period", String(32), nullable=False),
    Column("applied_at", UTCDateTime(), nullable=False),
)

reply_outcomes = Table(
    "reply_outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("line", String(300), nullable=False),
    Column("done", String(300)),  # what was done; NULL: the line was not understood
    Column("reported", Boolean, nullable=False, default=False),
)


def _v1_messages() -> Table:
    """The messages table as version 1 created it; later steps add the rest."""
    return Table(
        "messages",
        MetaData(),
        Column("key", String(512), primary_key=True),
        Column("date", UTCDateTime(), nullable=False),
        Column("date_source", String(16), nullable=False),
        Column("sender", String(320)),
        Column("sender_name", String(512)),
        Column("automated", String(64)),
        Column("recipient_count", Integer, nullable=False),
        Column("in_reply_to", String(512)),
        Index("ix_messages_date", "date"),
    )


def _v1(conn: Connection) -> None:
    _v1_messages().create(conn)
    skip = (  # tables later steps add
        schema_version, store_keys, messages, cards, card_emails, decisions, digest_items,
        digest_replies, reply_outcomes,
    )  # fmt: skip
    metadata.create_all(conn, tables=[t for t in metadata.sorted_tables if t not in skip])


def _v2(conn: Connection) -> None:
    """Threading without References and trusted senders: topic, conversation, reply and
    from_trusted columns, the store's key; message keys tell a reused Message-ID apart.

    Mail stored before lacks all of it and its keys follow the old rule, so mail is read once
    more: messages, their addresses and references, locations and IMAP cursors are cleared
    (the mail itself is on the server or in the Maildir) and the next sync re-reads every
    header. Calendars, people ids, sync runs and digests are untouched.
    """
    for name, kind in (("topic", "VARCHAR(64)"), ("conversation", "VARCHAR(64)"),
                       ("reply", "BOOLEAN"), ("from_trusted", "BOOLEAN")):  # fmt: skip
        conn.exec_driver_sql(f"ALTER TABLE messages ADD COLUMN {name} {kind}")
    store_keys.create(conn)
    conn.execute(store_keys.insert().values(name="topic", value=secrets.token_hex(32)))
    for table in (message_refs, message_addresses, messages, locations):
        conn.execute(table.delete())
    conn.execute(cursors.delete().where(cursors.c.folder != ""))


def _v3(conn: Connection) -> None:
    """Address books: contacts and their addresses. Nothing stored before changes."""
    cards.create(conn)
    card_emails.create(conn)


def _v4(conn: Connection) -> None:
    """The user's decisions (snooze, dismiss, log, forget, merge, tag, cadence)."""
    decisions.create(conn)


def _v5(conn: Connection) -> None:
    """Answering the digest by mail: what each digest numbered, replies applied, outcomes."""
    for table in (digest_items, digest_replies, reply_outcomes):
        table.create(conn)


# Append new steps; never edit a released one.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5]
CURRENT_VERSION = len(MIGRATIONS)


def migrate(conn: Connection) -> int:
    """Bring the schema to CURRENT_VERSION in the caller's transaction; return the old version.

    Raises UserError when the database was written by a newer agent (we cannot read it safely).
    """
    schema_version.create(conn, checkfirst=True)
    found = conn.execute(select(schema_version.c.version)).scalar()
    version = found or 0
    if version > CURRENT_VERSION:
        raise UserError(
            f"database schema version {version} is newer than this agent understands "
            f"({CURRENT_VERSION}); upgrade the agent or point [database] url at another database"
        )
    for step in MIGRATIONS[version:]:
        step(conn)
    if found is None:
        conn.execute(schema_version.insert().values(version=CURRENT_VERSION))
    elif version != CURRENT_VERSION:
        conn.execute(schema_version.update().values(version=CURRENT_VERSION))
    return version
