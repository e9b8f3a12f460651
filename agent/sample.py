"""Bundled sample data: a Maildir with planted relationships, for `make demo` and tests.

Deterministic (seeded) and relative to a fixed as-of date, so the demo always tells the
same story: healthy ties, a fading one, a one-sided one, one who is not reciprocated, a
reply owed, a missed follow-up after a meeting, an overdue mentor, plus newsletters,
notifications and a mass mailing that must not count as relationships.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from pathlib import Path

AS_OF = date(2026, 11, 20)
ME = ("Ana Example", "ana@example.org")


@dataclass
class Mail:
    when: datetime
    sender: tuple[str, str]
    to: list[tuple[str, str]]
    subject: str
    msgid: str
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)

    def render(self) -> bytes:
        lines = [
            f"From: {_addr(self.sender)}",
            "To: " + ", ".join(_addr(a) for a in self.to),
            f"Subject: {self.subject}",
            f"Date: {format_datetime(self.when)}",
            f"Message-ID: <{self.msgid}>",
        ]
        if self.in_reply_to:
            lines.append(f"In-Reply-To: <{self.in_reply_to}>")
        if self.references:
            lines.append("References: " + " ".join(f"<{r}>" for r in self.references))
        lines += [f"{k}: {v}" for k, v in self.extra.items()]
        lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", "Hello.", ""]
        return "\r\n".join(lines).encode("utf-8")


def _addr(a: tuple[str, str]) -> str:
    return f'"{a[0]}" <{a[1]}>' if a[0] else a[1]


class Mailbox:
    """Collects messages and writes them as a Maildir++ tree (INBOX and .Sent)."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.mails: list[Mail] = []
        self._n = 0

    def _id(self) -> str:
        self._n += 1
        return f"sample-{self._n}@example.org"

    def at(self, days_ago: float, hour: int = 10) -> datetime:
        base = datetime.combine(AS_OF, time(hour, 0), tzinfo=UTC)
        return base - timedelta(days=days_ago, minutes=self.rng.randint(0, 300))

    def thread(
        self,
        who: tuple[str, str],
        days_ago: float,
        starter: str,
        replies: int,
        subject: str,
        gap_hours: float = 5.0,
    ) -> None:
        """A thread between me and ``who``: ``starter`` is "me" or "them", then alternating."""
        first = self._id()
        refs: list[str] = []
        side = starter
        when = self.at(days_ago)
        for i in range(replies + 1):
            msgid = first if i == 0 else self._id()
            sender, rcpt = (ME, who) if side == "me" else (who, ME)
            self.mails.append(
                Mail(
                    when,
                    sender,
                    [rcpt],
                    ("Re: " if i else "") + subject,
                    msgid,
                    in_reply_to=refs[-1] if refs else None,
                    references=list(refs),
                )
            )
            refs.append(msgid)
            side = "them" if side == "me" else "me"
            when += timedelta(hours=gap_hours)

    def write(self, root: Path) -> int:
        for sub in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for n, mail in enumerate(self.mails):
            folder = root / ".Sent" / "cur" if mail.sender[1] == ME[1] else root / "cur"
            stamp = int(mail.when.timestamp())
            (folder / f"{stamp}.M{n}P1.sample:2,S").write_bytes(mail.render())
        return len(self.mails)


BOB = ("Bob Meyer", "bob@example.com")
CARLA = ("Carla Diaz", "carla@example.com")
DAN = ("Dan Okafor", "dan@startup.example")
EVE = ("Eve Laurent", "eve@agency.example")
FRANK = ("Frank Li", "frank@example.net")
HELEN = ("Helen Novak", "helen@university.example")
IRIS = ("Iris Berg", "iris@example.com")


def build(seed: int = 7) -> Mailbox:
    box = Mailbox(seed)
    _healthy(box)
    _fading(box)
    _one_sided(box)
    _not_reciprocating(box)
    _reply_owed(box)
    _mentor(box)
    _noise(box)
    return box


def _healthy(box: Mailbox) -> None:
    # Bob: every ~2 weeks for two years, right up to now, both sides starting.
    for k in range(52):
        box.thread(BOB, 3 + k * 14, "me" if k % 2 else "them", 2, f"Climbing plans {k}")
    # Iris: monthly, steady.
    for k in range(20):
        box.thread(IRIS, 10 + k * 30, "them" if k % 3 else "me", 1, f"Book club {k}")


def _fading(box: Mailbox) -> None:
    # Carla: every ~2 weeks for two years, then nothing for 199 days.
    for k in range(50):
        box.thread(CARLA, 199 + k * 14, "me" if k % 2 else "them", 1, f"Project notes {k}")


def _one_sided(box: Mailbox) -> None:
    # Dan: I keep starting threads; he answered once.
    for k in range(8):
        box.thread(DAN, 20 + k * 25, "me", 1 if k == 5 else 0, f"Intro idea {k}")


def _not_reciprocating(box: Mailbox) -> None:
    # Eve: she keeps reaching out; I answered once.
    for k in range(8):
        box.thread(EVE, 15 + k * 20, "them", 1 if k == 6 else 0, f"Would love your view {k}")


def _reply_owed(box: Mailbox) -> None:
    for k in range(6):
        box.thread(FRANK, 40 + k * 30, "them", 1, f"Running club {k}")
    box.thread(FRANK, 6, "them", 0, "Quick question about your talk")


def _mentor(box: Mailbox) -> None:
    for k in range(6):
        box.thread(HELEN, 120 + k * 60, "me", 1, f"Career chat {k}")


def _noise(box: Mailbox) -> None:
    news = ("Weekly Digest", "news@newsletter.example")
    for k in range(40):
        box.mails.append(
            Mail(
                box.at(k * 7),
                news,
                [ME],
                f"Issue {k}",
                box._id(),
                extra={
                    "List-Id": "<weekly.newsletter.example>",
                    "List-Unsubscribe": "<mailto:unsub@newsletter.example>",
                },
            )
        )
    # A mailing list I post to: my posts go to the list's address, which never answers as
    # itself (replies come from members, through the list): not a one-sided relationship.
    climbers = ("Climbers", "climbers@lists.example.org")
    list_headers = {
        "List-Id": "Climbing club <climbers.lists.example.org>",
        "List-Post": "<mailto:climbers@lists.example.org>",
    }
    for k in range(12):
        member = (f"Member {k}", f"member{k}@club.example")
        box.mails.append(Mail(box.at(5 + k * 9), member, [climbers], f"Crag report {k}",
                              box._id(), extra=list_headers))  # fmt: skip
        if k % 2 == 0:
            box.mails.append(Mail(box.at(4 + k * 9), ME, [climbers], f"Re: Crag report {k}",
                                  box._id()))  # fmt: skip
    bot = ("GitHub", "notifications@github.example")
    for k in range(30):
        box.mails.append(Mail(box.at(k * 3), bot, [ME], f"[repo] PR #{k}", box._id()))
    crowd = [(f"Member {n}", f"member{n}@club.example") for n in range(30)]
    box.mails.append(Mail(box.at(50), ME, crowd, "Club newsletter from Ana", box._id()))
    box.mails.append(
        Mail(
            box.at(30),
            ("Mail Delivery System", "mailer-daemon@example.org"),
            [ME],
            "Undelivered Mail Returned to Sender",
            box._id(),
            extra={"Auto-Submitted": "auto-replied"},
        )
    )


CONFIG_TEMPLATE = """\
# Generated by `agent.demo`: the sample mailbox and a SQLite database under {root}.
[me]
name = "Ana Example"
emails = ["ana@example.org", "ana.private@example.net"]
timezone = "Europe/Berlin"
language = "{language}"

[database]
url = "sqlite:///{root}/agent.db"

[[accounts]]
name = "sample"
type = "maildir"
path = "{root}/Maildir"

[[calendars]]
name = "calendar"
type = "ics"
url = "{root}/calendar.ics"

[[people]]
name = "Helen Novak"
emails = ["helen@university.example"]
tags = ["mentor"]

[cadence]
mentor = "90d"
"""


def write_sample(root: Path, language: str = "en") -> Path:
    """Write the sample Maildir and a config under ``root``; return the config path."""
    root.mkdir(parents=True, exist_ok=True)
    build().write(root / "Maildir")
    (root / "calendar.ics").write_text(calendar(), encoding="utf-8", newline="")
    config = root / "config.toml"
    config.write_text(CONFIG_TEMPLATE.format(root=root.resolve(), language=language))
    return config


GRACE = ("Grace Kim", "grace@venture.example")


def calendar() -> str:
    """Meetings: a first coffee with Grace and nothing since (a follow-up is due), and a
    cancelled lunch with Carla that must not break her silence."""
    grace = _event("coffee-grace", AS_OF - timedelta(days=9), "Coffee at the conference",
                   [(GRACE, "ACCEPTED")])  # fmt: skip
    carla = _event("lunch-carla", AS_OF - timedelta(days=40), "Lunch", [(CARLA, "ACCEPTED")],
                   status="CANCELLED")  # fmt: skip
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//agent//sample//EN", *grace, *carla,
             "END:VCALENDAR"]  # fmt: skip
    return "\r\n".join(lines) + "\r\n"


def _event(
    uid: str, day: date, summary: str, guests: list[tuple[tuple[str, str], str]],
    status: str = "CONFIRMED",
) -> list[str]:  # fmt: skip
    start = datetime.combine(day, time(9, 30), UTC)
    stamp = "%Y%m%dT%H%M%SZ"
    lines = [
        "BEGIN:VEVENT", f"UID:{uid}@sample.example", f"DTSTAMP:{start.strftime(stamp)}",
        f"DTSTART:{start.strftime(stamp)}",
        f"DTEND:{(start + timedelta(hours=1)).strftime(stamp)}",
        f"SUMMARY:{summary}", f"STATUS:{status}",
        f'ORGANIZER;CN="{ME[0]}":mailto:{ME[1]}',
        f'ATTENDEE;CN="{ME[0]}";PARTSTAT=ACCEPTED:mailto:{ME[1]}',
    ]  # fmt: skip
    lines += [f'ATTENDEE;CN="{name}";PARTSTAT={state}:mailto:{email}'
              for (name, email), state in guests]  # fmt: skip
    return [*lines, "END:VEVENT"]
