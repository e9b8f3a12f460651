"""From stored messages and meetings to interactions with people (DESIGN.md, "What counts").

Pure functions: records in, interactions out. A message from me is an ``out`` interaction
with each counterpart among its recipients; a message to me is an ``in`` interaction with its
sender; a meeting is one interaction with each other attendee who did not decline. Automated
mail yields nothing; group mail (more than GROUP_RECIPIENTS visible recipients) is marked
``group`` and mass mail (more than MASS_RECIPIENTS) ``mass``: both are recorded and shown, and
neither is a personal conversation.

Threads come from Message-ID / In-Reply-To / References, then Exchange's Thread-Index, then
the normalised subject of a reply among the same people (Outlook and most archives write no
References). The starter of a thread is the writer of its earliest message, unless that
message is itself a reply whose parent is not in the archive: then nobody here started it.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from agent.core.identity import Identity

# Group mail: more than this many visible recipients (To and Cc, me included). Chosen from the
# Enron mailboxes (tests/eval): the owners' own mail to 1-4 people is 84% of what they sent and
# reads as conversation; from 5 up it is team notices, weekly reports and league mail, and the
# incoming distribution has its broadcast peaks at 10-11 and 25+ recipients.
GROUP_RECIPIENTS = 4
MASS_RECIPIENTS = 20
DIRECT_MAX_RECIPIENTS = 3
ME = "\0me"  # the thread-starter marker for me; cannot collide with an address
UNKNOWN = ""  # the starter of a thread whose first message here replies to one we lack
# A reply joins an earlier message with the same subject among the same people within this.
TOPIC_WINDOW = timedelta(days=60)
# Archive conversions store one message several times with different Message-IDs, the Date
# shifted by whole hours (time-zone slips); copies are at most this far apart.
COPY_SHIFT = timedelta(hours=26)
_HOUR = 3600


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
    topic: str | None = None  # keyed hash of the normalised subject
    conversation: str | None = None  # Thread-Index conversation
    reply: bool = False
    # A copy in a Sent folder or an authenticated From: mail "from me" without it is forged.
    trusted: bool = True

    @property
    def recipient_count(self) -> int:
        return len(set(self.to) | set(self.cc) | set(self.bcc))

    @property
    def visible_count(self) -> int:
        return len(set(self.to) | set(self.cc))


@dataclass(frozen=True, slots=True)
class MeetingRecord:
    key: str
    start: datetime
    organizer: str | None
    status: str
    attendees: tuple[tuple[str, str, str], ...]  # (email, name, partstat)


# Mail I sent ("out"), mail to me ("in"), or a meeting with both of us.
Kind = Literal["out", "in", "meeting"]


@dataclass(frozen=True, slots=True)
class Interaction:
    person: str  # canonical key
    when: datetime
    kind: Kind
    key: str
    thread: str | None = None
    direct: bool = False  # an "in" message to me personally (me in To, few recipients)
    mass: bool = False
    answers_me: bool = False  # an "in" message in a thread where I wrote before
    group: bool = False  # more than GROUP_RECIPIENTS visible recipients (mass mail too)


@dataclass(frozen=True)
class Coverage:
    """Which days the archive holds mail in each direction: a silence or an unanswered
    message means something only where the archive could have shown the other side."""

    incoming: tuple[date, ...] = ()  # days with mail to me (sorted, distinct)
    outgoing: tuple[date, ...] = ()  # days with mail from me

    def has(self, direction: str, start: date, end: date, days: int = 1) -> bool:
        """Mail in ``direction`` ("in" / "out") on at least ``days`` days from ``start`` to
        ``end``."""
        found = self.incoming if direction == "in" else self.outgoing
        first = bisect.bisect_left(found, start)
        return bisect.bisect_right(found, end) - first >= days

    def span(self) -> tuple[date, date] | None:
        """The first and last day with any mail, or None for an empty archive."""
        days = [*self.incoming, *self.outgoing]
        return (min(days), max(days)) if days else None

    def gaps(self, direction: str, min_days: int = 30) -> list[tuple[date, date]]:
        """Stretches of more than ``min_days`` within the archive's span with no mail in
        ``direction``: (first day without, last day without)."""
        span = self.span()
        if span is None:
            return []
        found = self.incoming if direction == "in" else self.outgoing
        edges = [span[0] - timedelta(days=1), *found, span[1] + timedelta(days=1)]
        out = []
        for a, b in itertools.pairwise(edges):
            if (b - a).days - 1 > min_days:
                out.append((a + timedelta(days=1), b - timedelta(days=1)))
        return out

    def share(self, direction: str, start: date, end: date, window: int = 30) -> float | None:
        """Share of the ``window``-day stretches from ``start`` to ``end`` (counted back from
        ``end``) in which the archive holds mail in ``direction``; None when shorter."""
        total = (end - start).days // window
        if total <= 0:
            return None
        step = timedelta(days=window)
        found = 0
        for n in range(total):
            if self.has(direction, end - step * (n + 1) + timedelta(days=1), end - step * n):
                found += 1
        return round(found / total, 2)


@dataclass
class Derived:
    """Interactions per person, thread starters, and the display names seen per person."""

    by_person: dict[str, list[Interaction]] = field(default_factory=dict)
    starters: dict[str, str] = field(default_factory=dict)  # thread -> ME, UNKNOWN or canonical
    names: dict[str, str] = field(default_factory=dict)
    thread_starts: dict[str, datetime] = field(default_factory=dict)
    # People with a personal tie: I wrote to them directly, we met, they answered me, or a
    # known tie introduced us. Only they can be owed a reply or be "not reciprocating".
    ties: set[str] = field(default_factory=set)
    coverage: Coverage = field(default_factory=Coverage)

    def add(self, item: Interaction) -> None:
        self.by_person.setdefault(item.person, []).append(item)


def derive(
    messages: Iterable[MessageRecord], meetings: Iterable[MeetingRecord], identity: Identity
) -> Derived:
    """Interactions for every person. ``messages`` must be ordered by date (oldest first)."""
    every = [m for m in messages if _believable(m, identity)]
    ordered = drop_copies([m for m in every if not m.automated])
    threads = _threads(ordered, identity)
    out = Derived()
    senders = {m.key: m.sender for m in ordered}
    mine: set[str] = set()  # threads I have written in so far
    for message in ordered:
        thread = threads.get(message.key, message.key)
        _note_starter(out, thread, message, identity)
        _message_interactions(out, message, thread, identity, senders, thread in mine)
        if message.sender and identity.is_me(message.sender):
            mine.add(thread)
    links = _TieLinks.of(ordered, threads, identity)
    mail_ties = links.ties(out, identity)
    meetings = list(meetings)
    trusted = mail_ties | _calendar_ties(meetings, identity)
    for meeting in meetings:
        _meeting_interactions(out, meeting, identity, trusted)
    for items in out.by_person.values():
        items.sort(key=lambda i: (i.when, i.key))
    out.ties = links.ties(out, identity)  # now with the people met
    out.coverage = _coverage(every, identity)  # newsletters too show the archive kept a day
    return out


def _believable(message: MessageRecord, identity: Identity) -> bool:
    """Mail claiming to be from me is mine only when trusted (a Sent copy, an authenticated
    From); otherwise an outsider wrote my address into From, and it counts for nothing: it
    answers no one, starts no thread, and shows no coverage."""
    return message.trusted or not (message.sender and identity.is_me(message.sender))


def drop_copies(messages: list[MessageRecord]) -> list[MessageRecord]:
    """Messages without the extra copies an archive conversion made: same sender, visible
    recipients and subject, the same minute and second, a whole number of hours apart (up to
    COPY_SHIFT). Two real messages minutes apart differ in their minute and both stay."""
    kept: list[MessageRecord] = []
    seen: dict[tuple[object, ...], list[datetime]] = {}
    for m in messages:
        if m.topic is None:
            kept.append(m)
            continue
        stamp = (m.sender, frozenset(m.to) | frozenset(m.cc), m.topic, m.date.minute, m.date.second)
        earlier = seen.setdefault(stamp, [])
        if any(_whole_hours_apart(d, m.date) for d in earlier):
            continue
        earlier.append(m.date)
        kept.append(m)
    return kept


def _whole_hours_apart(a: datetime, b: datetime) -> bool:
    delta = abs(b - a)
    return delta <= COPY_SHIFT and delta.total_seconds() % _HOUR == 0


def _note_starter(out: Derived, thread: str, message: MessageRecord, identity: Identity) -> None:
    if thread in out.starters or not message.sender:
        return
    out.thread_starts[thread] = message.date
    if message.reply:
        out.starters[thread] = UNKNOWN  # its parent is not in the archive
    elif identity.is_me(message.sender):
        out.starters[thread] = ME
    else:
        out.starters[thread] = identity.canonical(message.sender) or UNKNOWN


def _message_interactions(
    out: Derived,
    message: MessageRecord,
    thread: str,
    identity: Identity,
    senders: dict[str, str | None],
    i_wrote_before: bool,
) -> None:
    sender = message.sender or ""
    mass = message.recipient_count > MASS_RECIPIENTS
    group = mass or message.visible_count > GROUP_RECIPIENTS
    if identity.is_me(sender):
        for recipient in _counterparts(message, identity):
            out.add(
                Interaction(
                    recipient, message.date, "out", message.key, thread, mass=mass, group=group
                )
            )
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
            answers_me=i_wrote_before or bool(replied_to and identity.is_me(replied_to)),
            group=group,
        )
    )


@dataclass(frozen=True)
class _TieLinks:
    """How a tie passes to a stranger, read once from the mail: introductions (a message
    to me from someone, with others in To/Cc) and the people in each thread's To/Cc."""

    introductions: tuple[tuple[str, frozenset[str]], ...]
    in_thread: dict[str, frozenset[str]]

    @classmethod
    def of(
        cls, messages: list[MessageRecord], threads: dict[str, str], identity: Identity
    ) -> _TieLinks:
        intros: list[tuple[str, frozenset[str]]] = []
        in_thread: dict[str, set[str]] = {}
        for m in messages:
            people = {p for p in map(identity.canonical, (*m.to, *m.cc)) if p is not None}
            in_thread.setdefault(threads.get(m.key, m.key), set()).update(people)
            sender = identity.canonical(m.sender) if m.sender else None
            if sender is None or m.visible_count > GROUP_RECIPIENTS:
                continue
            if any(identity.is_me(e) for e in (*m.to, *m.cc)):
                intros.append((sender, frozenset(people - {sender})))
        return cls(tuple(intros), {t: frozenset(p) for t, p in in_thread.items()})

    def ties(self, out: Derived, identity: Identity) -> set[str]:
        """People I wrote to directly (not group mail), met, listed in [[people]], who
        answered a thread of mine; then those a tie introduced (a small message to me from
        the tie, with them in To/Cc: "Ana, meet Dora"), and strangers writing in a thread
        whose To/Cc holds a tie."""
        ties = {
            person
            for person, items in out.by_person.items()
            if identity.profile(person) is not None
            or any(
                i.kind == "meeting" or (i.kind == "out" and not i.group) or
                (i.kind == "in" and i.answers_me)
                for i in items
            )
        }  # fmt: skip
        known = set(ties)
        for sender, others in self.introductions:
            if sender in known:
                ties |= others
        for person, items in out.by_person.items():
            if person in ties:
                continue
            for i in items:
                if i.kind == "in" and i.thread and (self._people(i.thread) - {person}) & ties:
                    ties.add(person)
                    break
        return ties

    def _people(self, thread: str) -> frozenset[str]:
        return self.in_thread.get(thread, frozenset())


def _coverage(messages: list[MessageRecord], identity: Identity) -> Coverage:
    incoming: set[date] = set()
    outgoing: set[date] = set()
    for m in messages:
        if m.sender and identity.is_me(m.sender):
            outgoing.add(m.date.date())
        elif _to_me(m, identity):
            incoming.add(m.date.date())
    return Coverage(tuple(sorted(incoming)), tuple(sorted(outgoing)))


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


# My answers to an invitation that make it a meeting whoever sent it.
ACCEPTED = frozenset({"ACCEPTED", "TENTATIVE", "DELEGATED"})


def _calendar_ties(meetings: list[MeetingRecord], identity: Identity) -> set[str]:
    """Organizers of invitations I accepted: their other invitations count unanswered too."""
    out: set[str] = set()
    for m in meetings:
        if m.organizer and any(
            identity.is_me(e) and p.upper() in ACCEPTED for e, _, p in m.attendees
        ):
            person = identity.canonical(m.organizer)
            if person is not None:
                out.add(person)
    return out


def _meeting_interactions(
    out: Derived, meeting: MeetingRecord, identity: Identity, trusted: set[str] | None = None
) -> None:
    if meeting.status.upper() == "CANCELLED":
        return
    mine = [a for a in meeting.attendees if identity.is_me(a[0])]
    organizer_is_me = bool(meeting.organizer and identity.is_me(meeting.organizer))
    if not mine and not organizer_is_me:
        return
    if any(partstat.upper() == "DECLINED" for _, _, partstat in mine):
        return
    if not organizer_is_me and not _invitation_counts(meeting, mine, identity, trusted):
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


def _invitation_counts(
    meeting: MeetingRecord,
    mine: list[tuple[str, str, str]],
    identity: Identity,
    trusted: set[str] | None,
) -> bool:
    """Someone else's invitation is a meeting once I accepted it; unanswered, only when its
    organizer is a personal tie (mail, [[people]], an invitation of theirs I accepted).
    Anyone can put an invitation into my calendar, with anyone on it."""
    if trusted is None or any(partstat.upper() in ACCEPTED for _, _, partstat in mine):
        return True
    organizer = identity.canonical(meeting.organizer) if meeting.organizer else None
    if organizer is None:
        return not meeting.organizer  # an event of my own calendar with no organizer
    return organizer in trusted or identity.profile(organizer) is not None


def _threads(messages: list[MessageRecord], identity: Identity) -> dict[str, str]:
    """Message key -> thread id: the union of Message-ID / In-Reply-To / References links,
    Thread-Index conversations, and replies that share a subject with an earlier message among
    the same people (someone besides me on both) within TOPIC_WINDOW."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression keeps long threads cheap
            parent[x], x = root, parent[x]
        return root

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    conversations: dict[str, str] = {}
    topics: dict[str, list[tuple[datetime, str, frozenset[str]]]] = {}
    people = {m.key: _participants(m) for m in messages}
    for message in messages:
        parent.setdefault(message.key, message.key)
        for ref in message.refs:
            # A reference joins a thread only when its writer took part in the message it
            # names (wrote or received it): anyone can list other people's Message-IDs.
            named = people.get(ref)
            if named is None or (message.sender or "") in named:
                union(message.key, ref)
        if message.conversation:
            union(conversations.setdefault(message.conversation, message.key), message.key)
        if message.topic:
            _join_topic(topics, message, identity, union)
    return {m.key: find(m.key) for m in messages}


def _participants(m: MessageRecord) -> frozenset[str]:
    return frozenset((*((m.sender,) if m.sender else ()), *m.to, *m.cc, *m.bcc, *m.delivered))


def _join_topic(
    topics: dict[str, list[tuple[datetime, str, frozenset[str]]]],
    message: MessageRecord,
    identity: Identity,
    union: Callable[[str, str], None],
) -> None:
    if message.topic is None:
        return
    addresses = (*((message.sender,) if message.sender else ()), *message.to, *message.cc)
    people = frozenset(p for p in map(identity.canonical, addresses) if p is not None)
    earlier = topics.setdefault(message.topic, [])
    if message.reply:
        for when, key, others in reversed(earlier):
            if message.date - when > TOPIC_WINDOW:
                break
            if others & people:
                union(key, message.key)
                break
    earlier.append((message.date, message.key, people))
