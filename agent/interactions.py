"""From stored messages and meetings to interactions with people (DESIGN.md, "What counts").

Pure functions: records in, interactions out. A message from me is an ``out`` interaction
with each counterpart among its recipients; a message to me is an ``in`` interaction with its
sender; a meeting is one interaction with each other attendee who did not decline. Automated
mail yields nothing; mass mail (more than MASS_RECIPIENTS recipients) is marked ``mass``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from agent.identity import Identity

MASS_RECIPIENTS = 20
DIRECT_MAX_RECIPIENTS = 3
ME = "\0me"  # the thread-starter marker for me; cannot collide with an address


@dataclass(frozen=True, slots=True)
class MessageRecord:
    key: str
    date: datetime
    sender: str | None
    sender_name: str | None
    automated: str | None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    delivered: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    in_reply_to: str | None = None

    @property
    def recipient_count(self) -> int:
        return len(set(self.to) | set(self.cc) | set(self.bcc))


@dataclass(frozen=True, slots=True)
class MeetingRecord:
    key: str
    start: datetime
    organizer: str | None
    status: str
    attendees: tuple[tuple[str, str, str], ...]  # (email, name, partstat)


@dataclass(frozen=True, slots=True)
class Interaction:
    person: str  # canonical key
    when: datetime
    kind: str  # "out" | "in" | "meeting"
    key: str
    thread: str | None = None
    direct: bool = False  # an "in" message to me personally (me in To, few recipients)
    mass: bool = False
    answers_me: bool = False  # an "in" message replying to a message of mine


@dataclass
class Derived:
    """Interactions per person, thread starters, and the display names seen per person."""

    by_person: dict[str, list[Interaction]] = field(default_factory=dict)
    starters: dict[str, str] = field(default_factory=dict)  # thread -> ME or canonical
    names: dict[str, str] = field(default_factory=dict)

    def add(self, item: Interaction) -> None:
        self.by_person.setdefault(item.person, []).append(item)


def derive(
    messages: Iterable[MessageRecord], meetings: Iterable[MeetingRecord], identity: Identity
) -> Derived:
    """Interactions for every person. ``messages`` must be ordered by date (oldest first)."""
    ordered = list(messages)
    threads = _threads(ordered)
    out = Derived()
    senders = {m.key: m.sender for m in ordered}
    for message in ordered:
        if message.automated:
            continue
        thread = threads.get(message.key, message.key)
        _note_starter(out, thread, message, identity)
        _message_interactions(out, message, thread, identity, senders)
    for meeting in meetings:
        _meeting_interactions(out, meeting, identity)
    for items in out.by_person.values():
        items.sort(key=lambda i: (i.when, i.key))
    return out


def _note_starter(out: Derived, thread: str, message: MessageRecord, identity: Identity) -> None:
    if thread in out.starters or not message.sender:
        return
    if identity.is_me(message.sender):
        out.starters[thread] = ME
    else:
        out.starters[thread] = identity.canonical(message.sender) or ""


def _message_interactions(
    out: Derived,
    message: MessageRecord,
    thread: str,
    identity: Identity,
    senders: dict[str, str | None],
) -> None:
    sender = message.sender or ""
    mass = message.recipient_count > MASS_RECIPIENTS
    if identity.is_me(sender):
        for recipient in _counterparts(message, identity):
            out.add(Interaction(recipient, message.date, "out", message.key, thread, mass=mass))
        return
    if not _to_me(message, identity):
        return
    person = identity.canonical(sender)
    if person is None:
        return
    if message.sender_name:
        out.names[person] = message.sender_name
    replied_to = senders.get(message.in_reply_to or "")
    out.add(
        Interaction(
            person,
            message.date,
            "in",
            message.key,
            thread,
            direct=_direct(message, identity),
            mass=mass,
            answers_me=bool(replied_to and identity.is_me(replied_to)),
        )
    )


def _counterparts(message: MessageRecord, identity: Identity) -> list[str]:
    seen: dict[str, None] = {}
    for email in (*message.to, *message.cc, *message.bcc):
        person = identity.canonical(email)
        if person is not None:
            seen.setdefault(person)
    return list(seen)


def _to_me(message: MessageRecord, identity: Identity) -> bool:
    if not (message.to or message.cc):
        # "undisclosed-recipients:;" or no To at all: it was Bcc'd, and it is in my mailbox.
        return True
    return any(
        identity.is_me(e) for e in (*message.to, *message.cc, *message.bcc, *message.delivered)
    )


def _direct(message: MessageRecord, identity: Identity) -> bool:
    visible = len(set(message.to) | set(message.cc))
    return any(identity.is_me(e) for e in message.to) and visible <= DIRECT_MAX_RECIPIENTS


def _meeting_interactions(out: Derived, meeting: MeetingRecord, identity: Identity) -> None:
    if meeting.status.upper() == "CANCELLED":
        return
    mine = [a for a in meeting.attendees if identity.is_me(a[0])]
    organizer_is_me = bool(meeting.organizer and identity.is_me(meeting.organizer))
    if not mine and not organizer_is_me:
        return
    if any(partstat.upper() == "DECLINED" for _, _, partstat in mine):
        return
    people: dict[str, str] = {}
    for email, name, partstat in meeting.attendees:
        person = identity.canonical(email)
        if person is None or partstat.upper() == "DECLINED":
            continue
        people.setdefault(person, name)
    for person, name in people.items():
        if name and person not in out.names:
            out.names[person] = name
        out.add(Interaction(person, meeting.start, "meeting", meeting.key, None))


def _threads(messages: list[MessageRecord]) -> dict[str, str]:
    """Message key -> thread id, by union of Message-ID, In-Reply-To and References."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression keeps long threads cheap
            parent[x], x = root, parent[x]
        return root

    for message in messages:
        parent.setdefault(message.key, message.key)
        for ref in message.refs:
            a, b = find(message.key), find(ref)
            if a != b:
                parent[b] = a
    return {m.key: find(m.key) for m in messages}
