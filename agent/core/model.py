"""Records that flow from connectors into the store: metadata only, never bodies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

# The one reason a list server adds in transit: another copy of the same message (my Sent
# copy, the direct Cc to me) may lack it, and that copy tells the truth about the message.
LIST_REASON = "mailing list"

# The time now, injected wherever a decision depends on it, so tests can set it.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# Where a message's date came from: its Date header, the fallback (IMAP INTERNALDATE, file
# mtime), or nowhere.
DateSource = Literal["header", "fallback", "none"]


@dataclass(frozen=True, slots=True)
class Address:
    """A lower-cased e-mail address and the display name it came with (RFC 2047 decoded)."""

    email: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """What we keep of one message.

    ``key`` identifies the message across folders, accounts and UIDVALIDITY resets: the
    Message-ID, or ``"h:"`` plus a hash of From, To, Date and Subject when it has none.
    ``date`` is always timezone-aware UTC; ``date_source`` says whether it came from the Date
    header or from the fallback (IMAP INTERNALDATE, file mtime).
    """

    key: str
    date: datetime
    date_source: DateSource
    sender: Address | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    delivered_to: tuple[str, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    automated: str | None = None  # why it is not a relationship, or None
    problems: tuple[str, ...] = ()
    list_address: str | None = None  # the mailing list's own address (List-Post / List-Id)
    # Threading without References (connectors/mail/subjects.py). ``topic`` is the normalised
    # subject, held in memory only: the store keeps a keyed hash of it, never the text.
    topic: str | None = None
    conversation: str | None = None  # Exchange Thread-Index conversation header
    reply: bool = False  # In-Reply-To, References, a Thread-Index child or a reply prefix
    authenticated: bool = False  # my server vouches for the From domain (DMARC / DKIM)
    inbound: bool = False  # it came in from outside (carries Authentication-Results)
    recipients_dropped: int = 0  # recipients past headers.MAX_ADDRESSES per field, not kept

    @property
    def recipients(self) -> tuple[Address, ...]:
        return self.to + self.cc + self.bcc


@dataclass(frozen=True, slots=True)
class Located:
    """A message as found in one place: (folder, location) within a source."""

    folder: str
    location: str  # IMAP UID or Maildir base file name
    meta: MessageMeta


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str
    name: str = ""
    partstat: str = "NEEDS-ACTION"


@dataclass(frozen=True, slots=True)
class MeetingMeta:
    """One occurrence of a calendar event.

    ``key`` is stable across re-syncs and series edits: UID plus the occurrence's original
    start (RECURRENCE-ID) in UTC.
    """

    key: str
    start: datetime  # aware UTC
    organizer: str | None
    attendees: tuple[Attendee, ...] = field(default_factory=tuple)
    status: str = "CONFIRMED"


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date that matters (BDAY, ANNIVERSARY), the year unknown where the card omits it."""

    month: int
    day: int
    year: int | None = None

    def text(self) -> str:
        if self.year is None:
            return f"--{self.month:02d}-{self.day:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


@dataclass(frozen=True, slots=True)
class Card:
    """One address book contact: a person, with every address of theirs.

    ``uid`` is the card's UID (or, without one, a hash of its text): stable across re-syncs.
    """

    uid: str
    name: str
    emails: tuple[str, ...]
    categories: tuple[str, ...] = ()
    birthday: PartialDate | None = None
    anniversary: PartialDate | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Something the user decided about a person (agent/core/decisions.py says what each
    action does). ``person`` is the person's first address: ids are per database, addresses
    survive a rebuilt one."""

    action: str  # snooze | dismiss | log | forget | merge | tag | untag | cadence
    person: str
    rule: str | None = None
    until: date | None = None
    value: str | None = None
    note: str | None = None
    day: date | None = None
    made_at: datetime | None = None
    origin: str = "cli"
    id: int | None = None


@dataclass
class Effects:
    """What decisions change in who is who (agent/core/identity.py reads this)."""

    forgotten: dict[str, Decision] = field(default_factory=dict)  # address -> decision
    merges: list[tuple[str, str]] = field(default_factory=list)  # (into, other)
    tags: dict[str, list[str]] = field(default_factory=dict)
    untags: dict[str, set[str]] = field(default_factory=dict)
    cadence: dict[str, timedelta] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # a merged person keeps their name
