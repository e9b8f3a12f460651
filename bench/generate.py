"""A deterministic, realistic mailbox for the benchmark, written as a Maildir++ tree.

``generate(root, Spec(...))`` writes INBOX to ``root/cur`` and my sent mail to
``root/.Sent/cur``: personal threads with a heavy-tailed number of messages per correspondent,
each with their own rhythm and active period (some relationships fade), Cc, occasional mass
mail, mailing-list traffic (List-Id / List-Unsubscribe) and no-reply notifications. Header
blocks look like real ones (Received, DKIM, MIME lines the sync does not ask for, RFC 2047
names, folded address lists); bodies are short because the sync never fetches them.

The same Spec always produces byte-identical files: everything comes from one seeded Random.
"""

from __future__ import annotations

import base64
import math
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime
from pathlib import Path

ME_NAME = "Ana Example"
ME_EMAILS = ("ana@example.org", "ana.private@example.net")
# A fixed end keeps the files (and `--as-of`) reproducible; it must lie in the past or the
# agent would treat the newest Date headers as implausible.
END = datetime(2026, 6, 30, 18, 0, tzinfo=UTC)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    "Anna Ben Carla David Elena Felix Grace Hiro Ines Jonas Kai Lena Marco Nina Omar Paula "
    "Quentin Rosa Sam Tara Umar Vera Wim Xenia Yusuf Zoe Lucas Mia Noah Emma Leon Sofia Mateo "
    "Hannah Ravi Priya Chen Mei Olga Pavel Aisha Tomas Ines Liam Chloe Ethan Ava Oscar Freya"
)
LAST = _words(
    "Meyer Diaz Rossi Novak Kim Okafor Schmidt Silva Tanaka Jensen Costa Nguyen Haddad Weber "
    "Moreau Fischer Romero Kowalski Larsen Ivanova Brown Clarke Patel Singh Lopez Bauer Wagner "
    "Conti Bianchi Dubois Martin Garcia Santos Walsh Byrne Murphy Berg Lund Hall Young"
)
# Names that need RFC 2047 in a header, as real clients write them.
INTERNATIONAL = (
    "José García", "Jürgen Müller", "Zoë Brontë", "Søren Kierkegård", "Łukasz Wróbel",
    "Françoise Lefèvre", "Ελένη Παπαδοπούλου", "田中 太郎", "Ирина Смирнова", "Çağla Şahin",
    "Björn Ångström", "Núria Puig", "Đorđe Jović", "محمد علي", "Kateřina Dvořáková",
)  # fmt: skip
PERSONAL_DOMAINS = (
    "gmail.com", "outlook.com", "web.de", "posteo.de", "yahoo.co.uk", "icloud.com",
    "proton.me", "gmx.net", "fastmail.com", "orange.fr",
)  # fmt: skip
WORDS = _words(
    "project update meeting notes budget draft review proposal contract invoice trip plan "
    "dinner weekend question feedback report slides launch hiring offer intro coffee call "
    "paper talk conference visit schedule thanks idea roadmap release bug design"
)
NOTIFIERS = (
    ("GitHub", "notifications@github.com"), ("LinkedIn", "messages-noreply@linkedin.com"),
    ("Google", "no-reply@accounts.google.com"), ("Deutsche Bahn", "noreply@bahn.de"),
    ("Calendar", "calendar-notification@google.com"), ("Bank", "donotreply@bank.example"),
    ("Mail Delivery System", "MAILER-DAEMON@example.org"), ("Shop", "bounces+8812@shop.example"),
)  # fmt: skip
OFFSETS = (-8, -5, -3, 0, 1, 2, 3, 5.5, 8, 9)


@dataclass(frozen=True)
class Spec:
    messages: int = 50_000
    people: int = 2_000
    years: float = 5.0
    list_share: float = 0.15
    notify_share: float = 0.05
    self_copy_share: float = 0.01  # my sent mail Cc'd to myself: the same message in two folders
    seed: int = 42


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    tz: timezone
    quota: int  # messages in personal threads with me
    start: datetime  # the active period of this relationship
    stop: datetime
    they_start: float  # share of threads they start
    my_address: str  # which of my addresses they write to
    colleagues: tuple[int, ...] = ()  # indexes of people at the same company


@dataclass
class Summary:
    """What was written: files per folder and kind, and the distinct messages among them."""

    files: int = 0
    distinct: int = 0
    by_folder: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    bytes: int = 0

    def add(self, folder: str, kind: str, size: int, duplicate: bool = False) -> None:
        self.files += 1
        self.distinct += 0 if duplicate else 1
        self.by_folder[folder] = self.by_folder.get(folder, 0) + 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.bytes += size


@dataclass(frozen=True)
class Message:
    folder: str  # "INBOX" | "Sent"
    kind: str  # personal | list | notification
    date: datetime
    headers: tuple[tuple[str, str], ...]
    body: str


def generate(root: Path, spec: Spec) -> Summary:
    """Write ``spec.messages`` message files under the Maildir++ ``root``; return a Summary."""
    writer = _Writer(root, subdir="cur", seed=spec.seed)
    rng = random.Random(spec.seed)
    people = make_people(rng, spec)
    n_list = round(spec.messages * spec.list_share)
    n_notify = round(spec.messages * spec.notify_share)
    for message in _all_messages(rng, spec, people, n_list, n_notify):
        writer.write(message)
    return writer.summary


def deliver_new(root: Path, spec: Spec, count: int, salt: int) -> Summary:
    """Drop ``count`` new incoming personal messages into ``root/new`` (what arrives later)."""
    writer = _Writer(root, subdir="new", seed=spec.seed * 1000 + salt)
    rng = random.Random(f"{spec.seed}-new-{salt}")
    people = make_people(random.Random(spec.seed), spec)
    for i in range(count):
        person = people[rng.randrange(min(len(people), 200))]
        when = END - timedelta(hours=rng.uniform(1, 24 * 7))
        writer.write(_incoming(rng, person, people, when, _subject(rng), (), f"new{salt}.{i}"))
    return writer.summary


def _all_messages(
    rng: random.Random, spec: Spec, people: list[Person], n_list: int, n_notify: int
) -> Iterator[Message]:
    personal = spec.messages - n_list - n_notify
    budget = personal
    for index in range(len(people)):
        for message in _relationship(rng, spec, people, index):
            if budget <= 0:
                break
            budget -= 1
            yield message
    # Quotas are rounded, so a few personal messages may be left over: top up the closest ties.
    while budget > 0:
        person = people[rng.randrange(min(len(people), 20))]
        when = _uniform_time(rng, person.start, person.stop)
        yield _incoming(rng, person, people, when, _subject(rng), (), f"top{budget}")
        budget -= 1
    yield from _list_mail(rng, spec, people, n_list)
    yield from _notifications(rng, spec, n_notify)


# -- people ---------------------------------------------------------------------------------


def make_people(rng: random.Random, spec: Spec) -> list[Person]:
    """Correspondents, closest first; message quotas follow a Zipf-like heavy tail."""
    personal = spec.messages * (1 - spec.list_share - spec.notify_share)
    weights = [1 / (rank + 1) ** 1.05 for rank in range(spec.people)]
    total = sum(weights)
    companies = [f"{rng.choice(LAST).lower()}-{word}.example" for word in WORDS[:40]]
    people: list[Person] = []
    seen: set[str] = set()
    begin = END - timedelta(days=365.25 * spec.years)
    for rank, weight in enumerate(weights):
        name = _name(rng)
        company = rng.random() < 0.45
        domain = rng.choice(companies) if company else rng.choice(PERSONAL_DOMAINS)
        email = _unique_email(name, domain, seen, rng)
        start, stop = _active_period(rng, begin, END, rank)
        people.append(
            Person(
                name=name, email=email, tz=timezone(timedelta(hours=rng.choice(OFFSETS))),
                quota=max(1, round(personal * weight / total)), start=start, stop=stop,
                they_start=rng.uniform(0.15, 0.85),
                my_address=ME_EMAILS[0] if company or rng.random() < 0.6 else ME_EMAILS[1],
            )
        )  # fmt: skip
    return _link_colleagues(people)


def _name(rng: random.Random) -> str:
    if rng.random() < 0.06:
        return rng.choice(INTERNATIONAL)
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _unique_email(name: str, domain: str, seen: set[str], rng: random.Random) -> str:
    parts = [p.lower() for p in name.split() if p.isascii()] or [f"user{rng.randrange(10**6)}"]
    local = ".".join(parts) if rng.random() < 0.7 else parts[0][0] + parts[-1]
    email, n = f"{local}@{domain}", 1
    while email in seen:
        n += 1
        email = f"{local}{n}@{domain}"
    seen.add(email)
    return email


def _active_period(
    rng: random.Random, begin: datetime, end: datetime, rank: int
) -> tuple[datetime, datetime]:
    span = (end - begin).total_seconds()
    # Close ties tend to span the whole period; a quarter of all relationships fade early.
    start = begin + timedelta(seconds=span * rng.uniform(0, 0.3 if rank < 50 else 0.85))
    fades = rng.random() < 0.25
    return start, start + (end - start) * rng.uniform(0.2, 0.7) if fades else end


def _link_colleagues(people: list[Person]) -> list[Person]:
    by_domain: dict[str, list[int]] = {}
    for i, p in enumerate(people):
        by_domain.setdefault(p.email.split("@")[1], []).append(i)
    out = []
    for i, p in enumerate(people):
        mates = by_domain[p.email.split("@")[1]]
        colleagues = tuple(j for j in mates[:12] if j != i) if len(mates) < 200 else ()
        out.append(_replace(p, colleagues=colleagues))
    return out


def _replace(p: Person, **changes: object) -> Person:
    values = {**p.__dict__, **changes}
    return Person(**values)


# -- personal threads -----------------------------------------------------------------------


def _relationship(
    rng: random.Random, spec: Spec, people: list[Person], index: int
) -> Iterator[Message]:
    person = people[index]
    left = person.quota
    threads = max(1, round(left / 2.6))
    gap = (person.stop - person.start) / threads
    when = person.start + gap * rng.random()
    thread_no = 0
    while left > 0:
        length = min(left, 1 + _geometric(rng, 0.42, 9))
        yield from _thread(rng, people, index, when, length, f"{index}.{thread_no}")
        left -= length
        thread_no += 1
        # Exponential gaps around this person's own rhythm: bursts and long pauses.
        when += gap * rng.expovariate(1.0)
        if when > person.stop:
            when = _uniform_time(rng, person.start, person.stop)


def _thread(
    rng: random.Random, people: list[Person], index: int, when: datetime, length: int, tag: str
) -> Iterator[Message]:
    person = people[index]
    cc = _cc(rng, people, person)
    subject = _subject(rng)
    mine = rng.random() >= person.they_start
    refs: tuple[str, ...] = ()
    for n in range(length):
        when = _working_hours(rng, min(when, END), person.tz)
        make = _outgoing if mine else _incoming
        message = make(rng, person, people, when, subject, refs, f"{tag}.{n}", cc)
        yield message
        if mine and rng.random() < 0.01:
            yield _self_copy(message)
        refs = (*refs, _header(message, "Message-ID"))[-12:]
        subject = subject if subject.startswith("Re: ") else f"Re: {subject}"
        when += timedelta(hours=rng.lognormvariate(2.2, 1.3))
        mine = not mine if rng.random() < 0.85 else mine


def _cc(rng: random.Random, people: list[Person], person: Person) -> tuple[Person, ...]:
    if rng.random() >= 0.22:
        return ()
    pool = person.colleagues or tuple(rng.randrange(len(people)) for _ in range(3))
    picks = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
    return tuple(people[j] for j in picks)


def _incoming(
    rng: random.Random, person: Person, people: list[Person], when: datetime, subject: str,
    refs: tuple[str, ...], tag: str, cc: tuple[Person, ...] = (),
) -> Message:  # fmt: skip
    mid = _message_id(rng, person.email.split("@")[1], tag)
    me = (ME_NAME, person.my_address)
    to = [me]
    cc_list = [(p.name, p.email) for p in cc]
    if cc_list and rng.random() < 0.3:
        to, cc_list = cc_list[:1], [me, *cc_list[1:]]  # I am only in Cc
    headers = [
        *_transport(rng, person.email, person.my_address, when),
        ("Message-ID", mid),
        ("Date", format_datetime(when.astimezone(person.tz))),
        ("From", _mailbox(person.name, person.email, rng)),
        ("To", _mailboxes(to, rng)),
        *([("Cc", _mailboxes(cc_list, rng))] if cc_list else []),
        ("Subject", subject),
        *_threading(refs),
        *_mime(rng),
    ]
    return Message("INBOX", "personal", when, tuple(headers), _body(rng, bool(refs)))


def _outgoing(
    rng: random.Random, person: Person, people: list[Person], when: datetime, subject: str,
    refs: tuple[str, ...], tag: str, cc: tuple[Person, ...] = (),
) -> Message:  # fmt: skip
    mid = _message_id(rng, person.my_address.split("@")[1], tag)
    to = [(person.name, person.email)]
    extra: list[tuple[str, str]] = []
    if rng.random() < 0.003:
        # Mass mail (an invitation, a newsletter I send): more than 20 recipients, in Bcc.
        crowd = rng.sample(people, min(len(people), rng.randint(25, 45)))
        extra.append(("Bcc", _mailboxes([(p.name, p.email) for p in crowd], rng)))
    headers = [
        ("Message-ID", mid),
        ("Date", format_datetime(when.astimezone(person.tz))),
        ("From", _mailbox(ME_NAME, person.my_address, rng)),
        ("To", _mailboxes(to, rng)),
        *([("Cc", _mailboxes([(p.name, p.email) for p in cc], rng))] if cc else []),
        *extra,
        ("Subject", subject),
        *_threading(refs),
        *_mime(rng),
    ]
    return Message("Sent", "personal", when, tuple(headers), _body(rng, bool(refs)))


def _self_copy(message: Message) -> Message:
    return Message("INBOX", "self-copy", message.date, message.headers, message.body)


def _threading(refs: tuple[str, ...]) -> list[tuple[str, str]]:
    if not refs:
        return []
    return [("In-Reply-To", refs[-1]), ("References", " ".join(refs))]


# -- list mail and notifications ------------------------------------------------------------


def _list_mail(
    rng: random.Random, spec: Spec, people: list[Person], count: int
) -> Iterator[Message]:
    lists = [(f"{w}-users", f"lists.{w}.example") for w in WORDS[:12]]
    begin = END - timedelta(days=365.25 * spec.years)
    refs: dict[int, tuple[str, ...]] = {}
    for n in range(count):
        which = min(int(rng.paretovariate(1.2)) - 1, len(lists) - 1)
        name, host = lists[which]
        poster = _list_poster(rng, people)
        when = _uniform_time(rng, begin, END)
        thread = refs.get(which, ()) if rng.random() < 0.6 else ()
        mid = _message_id(rng, poster[1].split("@")[1], f"list{n}")
        headers = [
            *_transport(rng, f"{name}-bounces@{host}", ME_EMAILS[0], when),
            ("Message-ID", mid),
            ("Date", format_datetime(when)),
            ("From", _mailbox(poster[0], poster[1], rng)),
            ("To", f"{name}@{host}"),
            ("Subject", f"[{name}] {_subject(rng)}"),
            *_threading(thread),
            ("List-Id", f"{name.title()} <{name}.{host}>"),
            ("List-Unsubscribe", f"<mailto:{name}-leave@{host}>, <https://{host}/unsub/{name}>"),
            ("Precedence", "list"),
            *_mime(rng),
        ]
        refs[which] = (*thread, mid)[-8:]
        yield Message("INBOX", "list", when, tuple(headers), _body(rng, bool(thread)))


def _list_poster(rng: random.Random, people: list[Person]) -> tuple[str, str]:
    if rng.random() < 0.2:
        p = people[rng.randrange(len(people))]
        return p.name, p.email
    name = _name(rng)
    return name, _unique_email(name, rng.choice(PERSONAL_DOMAINS), set(), rng)


def _notifications(rng: random.Random, spec: Spec, count: int) -> Iterator[Message]:
    begin = END - timedelta(days=365.25 * spec.years)
    for n in range(count):
        name, address = rng.choice(NOTIFIERS)
        when = _uniform_time(rng, begin, END)
        headers = [
            *_transport(rng, address, ME_EMAILS[0], when),
            # A few senders omit Message-ID: the agent keys those by a header hash.
            *([] if rng.random() < 0.02 else [("Message-ID", _message_id(rng, "mail", f"n{n}"))]),
            ("Date", format_datetime(when)),
            ("From", _mailbox(name, address, rng)),
            ("To", ME_EMAILS[0]),
            ("Subject", f"{name}: {_subject(rng)} #{n}"),
            ("Auto-Submitted", "auto-generated"),
            *_mime(rng),
        ]
        yield Message("INBOX", "notification", when, tuple(headers), _body(rng, False))


# -- header and body text -------------------------------------------------------------------


def _transport(rng: random.Random, sender: str, rcpt: str, when: datetime) -> list[tuple[str, str]]:
    host = sender.split("@")[1]
    stamp = format_datetime(when)
    ip = f"203.0.113.{rng.randrange(1, 255)}"
    sig = base64.b64encode(rng.randbytes(128)).decode()
    return [
        ("Return-Path", f"<{sender}>"),
        ("Delivered-To", rcpt),
        ("Received", f"from mx.example.org (localhost [127.0.0.1])\n\tby mail.example.org "
                     f"(Postfix) with ESMTP id {rng.randrange(16**10):010X}\n\tfor <{rcpt}>; "
                     f"{stamp}"),
        ("Received", f"from mail.{host} (mail.{host} [{ip}])\n\tby mx.example.org (Postfix) "
                     f"with ESMTPS id {rng.randrange(16**10):010X}\n\tfor <{rcpt}>; {stamp}"),
        ("DKIM-Signature", f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={host}; s=s1;\n\t"
                           f"h=from:to:subject:date:message-id; bh={sig[:44]};\n\tb={sig[44:]}"),
    ]  # fmt: skip


def _mime(rng: random.Random) -> list[tuple[str, str]]:
    agent = rng.choice(("Mozilla Thunderbird", "Apple Mail (2.3774)", "Microsoft Outlook 16.0"))
    return [
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8; format=flowed"),
        ("Content-Transfer-Encoding", "8bit"),
        ("User-Agent", agent),
    ]


def _mailbox(name: str, email: str, rng: random.Random) -> str:
    if not name.isascii():
        charset = "iso-8859-1" if _latin1(name) and rng.random() < 0.4 else "utf-8"
        return f"{Header(name, charset).encode()} <{email}>"
    if "," in name or rng.random() < 0.2:
        return f'"{name}" <{email}>'
    return f"{name} <{email}>"


def _latin1(text: str) -> bool:
    try:
        text.encode("iso-8859-1")
    except UnicodeEncodeError:
        return False
    return True


def _mailboxes(pairs: list[tuple[str, str]], rng: random.Random) -> str:
    # Fold long lists as clients do: one address per continuation line.
    return ",\n ".join(_mailbox(name, email, rng) for name, email in pairs)


def _subject(rng: random.Random) -> str:
    words = rng.sample(WORDS, rng.randint(2, 5))
    return " ".join(words).capitalize()


def _message_id(rng: random.Random, domain: str, tag: str) -> str:
    return f"<{tag}.{rng.randrange(16**12):012x}@{domain}>"


def _body(rng: random.Random, reply: bool) -> str:
    lines = [" ".join(rng.choices(WORDS, k=rng.randint(6, 12))) for _ in range(rng.randint(3, 30))]
    if reply:
        lines += ["", "On an earlier day, someone wrote:"]
        lines += ["> " + " ".join(rng.choices(WORDS, k=10)) for _ in range(rng.randint(2, 15))]
    return "\n".join(lines) + "\n"


def _header(message: Message, name: str) -> str:
    return next(value for key, value in message.headers if key == name)


# -- time -----------------------------------------------------------------------------------


def _geometric(rng: random.Random, p: float, cap: int) -> int:
    return min(cap, int(math.log(1 - rng.random()) / math.log(1 - p)))


def _uniform_time(rng: random.Random, a: datetime, b: datetime) -> datetime:
    return a + (b - a) * rng.random()


def _working_hours(rng: random.Random, when: datetime, tz: timezone) -> datetime:
    """Most mail is written on weekdays between 8 and 19 in the writer's own time zone."""
    local = when.astimezone(tz)
    if rng.random() < 0.8 and not 8 <= local.hour < 19:
        local = local.replace(hour=rng.randint(8, 18), minute=rng.randrange(60))
    if rng.random() < 0.8 and local.weekday() >= 5:
        local += timedelta(days=7 - local.weekday())
    return min(local.astimezone(UTC), END)


# -- writing --------------------------------------------------------------------------------


class _Writer:
    """Writes Maildir files; the file mtime is the delivery time (Dovecot's INTERNALDATE)."""

    def __init__(self, root: Path, subdir: str, seed: int) -> None:
        self.root = root
        self.subdir = subdir
        self.seed = seed
        self.count = 0
        self.summary = Summary()
        for folder in (root, root / ".Sent"):
            for sub in ("cur", "new", "tmp"):
                (folder / sub).mkdir(parents=True, exist_ok=True)

    def write(self, message: Message) -> None:
        self.count += 1
        data = _render(message)
        stamp = int(message.date.timestamp())
        # Flags (":2,S") only belong on files in cur/; new/ holds unseen deliveries.
        flags = ":2,S" if self.subdir == "cur" else ""
        name = f"{stamp}.M{self.count}P{self.seed}.bench{flags}"
        folder = self.root if message.folder == "INBOX" else self.root / ".Sent"
        path = folder / self.subdir / name
        path.write_bytes(data)
        os.utime(path, (stamp, stamp))
        self.summary.add(message.folder, message.kind, len(data), message.kind == "self-copy")


def _render(message: Message) -> bytes:
    head = "".join(f"{name}: {value}\n" for name, value in message.headers)
    return (head + "\n" + message.body).encode("utf-8")
