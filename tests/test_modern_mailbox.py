"""A modern mailbox with the traps real mail sets, through the real command line.

Outlook threading (Thread-Index and "AW:" subjects, no References), auto-replies in several
languages, replies filed in an archive folder, a weekly group update, shop and ticket mail
without list headers, one person writing from two addresses, an introduction followed by the
stranger's own question, a placeholder date, Trash and Junk. The true findings among them: a
fading tie (Carla), an owed reply (Dora) and a contact I do not answer (Eve). Nothing else.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from agent.cli.main import main

AS_OF = date(2026, 11, 20)
ME = ("Ana Example", "ana@example.org")
OLD_ME = ("Ana Example", "ana.old@example.net")
CARLA = ("Carla Diaz", "carla@corp.example")
BOB = ("Bob Meyer", "bob@example.com")
DORA = ("Dora Quist", "dora@startup.example")
DAN = ("Dan Okafor", "dan@partner.example")
EVE = ("Eve Laurent", "eve@agency.example")
IRIS = ("Iris Berg", "iris@example.com")
HELEN = ("Helen Novak", "helen@university.example")
HELEN_HOME = ("Novak, Helen", "helen.novak@mail.example")
LEAD = ("Team Lead", "lead@corp.example")
SHOP = ("Shop", "bestellung@shop.example")
DESK = ("Helpdesk", "support@helpdesk.example")
FRANK = ("Frank Li", "frank@example.net")


class Box:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0
        for folder in ("", ".Sent", ".Archive.2026", ".Trash", ".Junk"):
            for sub in ("cur", "new", "tmp"):
                (root / folder / sub).mkdir(parents=True, exist_ok=True)

    def mail(
        self,
        days_ago: float,
        sender: tuple[str, str],
        to: list[tuple[str, str]],
        subject: str,
        folder: str = "",
        extra: str = "",
        date_header: str | None = None,
    ) -> str:
        self.n += 1
        when = datetime.combine(AS_OF, time(9), tzinfo=UTC) - timedelta(days=days_ago)
        if not folder:
            folder = ".Sent" if sender[1] in (ME[1], OLD_ME[1]) else ""
        msgid = f"<m{self.n}@{sender[1].split('@')[1]}>"
        head = [
            f"From: {_addr(sender)}",
            "To: " + ", ".join(_addr(a) for a in to),
            f"Subject: {subject}",
            f"Date: {date_header or when.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
            f"Message-ID: {msgid}",
        ]
        raw = "\r\n".join(head) + ("\r\n" + extra if extra else "") + "\r\n\r\nHello.\r\n"
        path = self.root / folder / "cur" / f"{int(when.timestamp())}.M{self.n}.box:2,S"
        path.write_bytes(raw.encode())
        os.utime(path, (when.timestamp(), when.timestamp()))
        return msgid


def _addr(address: tuple[str, str]) -> str:
    name, email = address
    return f'"{name}" <{email}>' if "," in name else f"{name} <{email}>"


def thread_index(conversation: bytes, replies: int = 0) -> str:
    return (
        "Thread-Index: "
        + base64.b64encode(conversation + b"\x01\x02\x03\x04\x05" * replies).decode()
    )


def build(root: Path) -> None:
    box = Box(root)
    # Carla: a monthly tie for two years (her mail, my answer the next day, Outlook style),
    # silent for 150 days now: really fading.
    for k in range(24):
        conv = b"\x01\xd9" + uuid.UUID(int=k + 1).bytes + b"\x00\x00\x00\x00"
        day = 150 + 30 * k
        box.mail(day, CARLA, [ME], f"Quartalszahlen {k}", extra=thread_index(conv))
        box.mail(day - 1, ME, [CARLA], f"AW: Quartalszahlen {k}", extra=thread_index(conv, 1))
    # Iris and Bob: healthy, every two weeks right up to now; auto-replies now and then.
    for k in range(52):
        day = 5 + 14 * k
        box.mail(day, IRIS, [ME], f"Book club {k}")
        box.mail(day - 0.5, ME, [IRIS], f"Re: Book club {k}")
        box.mail(day + 3, ME, [BOB], f"Climbing {k}")
        box.mail(day + 2.5, BOB, [ME], f"Re: Climbing {k}")
    box.mail(
        40, IRIS, [ME], "Risposta automatica: Book club 3", extra="Auto-Submitted: auto-replied"
    )
    box.mail(
        60, BOB, [ME], "Automatische Antwort: Climbing 4", extra="X-Auto-Response-Suppress: All"
    )
    box.mail(70, IRIS, [ME], "Respuesta automática: Book club")
    # Dan: I start every thread; his answers are filed in Archive/2026.
    for k in range(6):
        box.mail(10 + 20 * k, ME, [DAN], f"Idee {k}")
        box.mail(9 + 20 * k, DAN, [ME], f"RE: Idee {k}", folder=".Archive.2026")
    box.mail(69, DAN, [ME], "Out of Office: Idee 3")
    # Helen writes from two addresses; together a steady two-way tie.
    for k in range(12):
        who = HELEN if k % 2 else HELEN_HOME
        box.mail(8 + 21 * k, who, [ME], f"Seminar {k}")
        box.mail(7 + 21 * k, ME, [who], f"Re: Seminar {k}")
    # Eve keeps reaching out; I answered once: not reciprocating, and she is a tie.
    for k in range(7):
        box.mail(2 + 18 * k, EVE, [ME], f"Would love your view {k}")
    box.mail(17, ME, [EVE], "Re: Would love your view 1")
    # Bob introduces Dora; she then asks me directly, five days ago, and waits.
    box.mail(30, BOB, [ME, DORA], "Intro: Ana, meet Dora")
    box.mail(5, DORA, [ME], "Could you look at my pitch deck?")
    # A weekly update to eight people; I never answer: group mail, not a conversation.
    team = [ME, *((f"P{n}", f"p{n}@corp.example") for n in range(7))]
    for k in range(30):
        box.mail(3 + 7 * k, LEAD, team, f"Weekly update {k}")
    # A shop and a ticket system, no list headers.
    for k in range(5):
        box.mail(4 + 9 * k, SHOP, [ME], f"Ihre Bestellung {1000 + k} wurde versandt")
    box.mail(6, DESK, [ME], "[#987654] Ihre Anfrage ist eingegangen")
    # A placeholder date (falls back to the file's date), Trash and Junk.
    box.mail(12, FRANK, [ME], "Hello again", date_header="Tue, 01 Jan 1980 00:00:00 +0000")
    for k in range(6):
        box.mail(20 + k, ("Spammer", f"win{k}@spam.example"), [ME], "You won", folder=".Junk")
        box.mail(20 + k, CARLA, [ME], f"Deleted {k}", folder=".Trash")
    # Mail I sent from an old address of mine.
    box.mail(50, OLD_ME, [IRIS], "From my old address")
    box.mail(51, OLD_ME, [BOB], "Also from my old address")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("modern")
    build(root / "Mail")
    path = root / "config.toml"
    path.write_text(
        f'[me]\nname = "Ana Example"\nemails = ["ana@example.org"]\ntimezone = "Europe/Berlin"\n\n'
        f'[database]\nurl = "sqlite:///{root}/agent.db"\n\n'
        f'[[accounts]]\nname = "home"\ntype = "maildir"\npath = "{root}/Mail"\n\n'
        f"[rules]\nfiles = []\n"
    )
    result = run(path, "sync")
    assert result.exit_code == 0, result.output
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def test_only_the_true_findings_are_raised(config: Path) -> None:
    result = run(config, "digest", "--format", "json", "--as-of", AS_OF.isoformat())
    findings = json.loads(result.output)["findings"]
    assert {(f["rule"], f["person"]["name"]) for f in findings} == {
        ("fading", "Carla Diaz"),
        ("reply-owed", "Dora Quist"),
        ("not-reciprocating", "Eve Laurent"),
    }


def test_what_the_traps_become(config: Path) -> None:
    result = run(config, "people", "--format", "json", "--as-of", AS_OF.isoformat())
    found = json.loads(result.output)
    people = {p["person"]["name"]: p for p in found}
    [helen] = [p for p in found if HELEN[1] in p["person"]["emails"]]
    assert set(helen["person"]["emails"]) == {HELEN[1], HELEN_HOME[1]}
    assert helen["stats"]["emails_received"] == 12 and not helen["stats"]["reply_owed"]
    dan = people["Dan Okafor"]["stats"]
    assert dan["their_reply_rate"] == 1.0  # his answers in Archive/2026, threads by subject
    carla = people["Carla Diaz"]["stats"]
    assert carla["threads_started_by_them"] == 24 and carla["my_reply_rate"] == 1.0
    assert people["Iris Berg"]["stats"]["emails_received"] == 52  # auto-replies are not mail
    assert people["Team Lead"]["stats"]["group_emails"] == 30
    assert people["Team Lead"]["stats"]["emails_received"] == 0
    assert not people["Shop"]["stats"]["personal_tie"]
    assert "Helpdesk" not in people  # the ticket system
    assert people["Frank Li"]["stats"]["first_contact"] == (AS_OF - timedelta(days=12)).isoformat()
    assert not any(
        e.endswith("spam.example") for p in people.values() for e in p["person"]["emails"]
    )


def test_check_names_the_folders_left_out_and_my_other_address(config: Path) -> None:
    output = run(config, "check", "--offline").output
    assert "not read: Junk (junk), Trash (trash)" in output
    assert "hint: ana.old@example.net looks like one of your addresses" in output


def test_person_explains_an_address_that_is_not_a_person(config: Path) -> None:
    result = run(config, "person", DESK[1])
    assert result.exit_code == 2
    assert "is not treated as a person" in result.output
    assert "ticket system: 1" in result.output
    shown = run(config, "person", HELEN_HOME[1]).output
    assert "merged: " in shown and "same name" in shown
