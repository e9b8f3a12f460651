"""What an outsider's mail cannot do (issue 15): forge my replies, steal or bend a message by
reusing its Message-ID, merge other people's threads, turn a person into a mailing list, or
make a stranger's invitation a meeting. Real SQLite store, real header parser."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.config.settings import parse_config
from agent.core.model import Located
from agent.core.pipeline import load_network
from agent.store.database import Store
from connectors.mail.folders import is_sent
from connectors.mail.headers import parse_headers

ANA = "ana@example.org"
BOB = "bob@example.com"
NOW = datetime(2026, 11, 20, 18, tzinfo=UTC)
CONFIG = parse_config(
    {"me": {"emails": [ANA], "timezone": "UTC"}, "database": {"url": "sqlite://"}}
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path}/agent.db")
    yield opened
    opened.close()


def mail(msgid: str, sender: str, to: str, days_ago: float, extra: str = "") -> bytes:
    when = (NOW - timedelta(days=days_ago)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    head = f"Message-ID: <{msgid}>\nFrom: {sender}\nTo: {to}\nDate: {when}\nSubject: Hello\n"
    return (head + extra + "\n").encode()


def put(store: Store, folder: str, *raws: bytes) -> None:
    found = [
        Located(folder, f"{folder}-{n}-{hash(r)}", parse_headers(r)) for n, r in enumerate(raws)
    ]
    store.ingest("acct", folder, "", found, sent=is_sent(folder))  # as a connector decides


@pytest.fixture(autouse=True)
def history(store: Store) -> None:
    """Bob is a tie (I wrote to him a month ago), and my Sent folder goes on until today."""
    put(store, "Sent", mail("old@example.org", ANA, BOB, 30), mail("c@example.org", ANA,
        "carla@example.net", 0.5))  # fmt: skip


def bob(store: Store) -> dict[str, object]:
    network = load_network(CONFIG, store, NOW)
    [report] = [r for r in network.reports if BOB in r.person.emails]
    return report.stats


def test_mail_from_me_outside_sent_answers_nobody(store: Store) -> None:
    put(store, "INBOX", mail("q1@example.com", BOB, ANA, 5))
    put(store, "INBOX", mail("forged@evil.example", ANA, BOB, 1))  # no copy in Sent
    assert bob(store)["reply_owed"] is True
    assert bob(store)["emails_sent"] == 1  # only the real one, a month ago


def test_my_server_vouching_for_my_domain_makes_it_mine(store: Store) -> None:
    put(store, "INBOX", mail("q1@example.com", BOB, ANA, 5))
    passed = "Authentication-Results: mx.example.org; dmarc=pass header.from=example.org\n"
    put(store, "INBOX", mail("mine@example.org", ANA, BOB, 1, passed))
    assert bob(store)["reply_owed"] is False


def test_only_the_topmost_authentication_results_counts() -> None:
    # A sender can add their own Authentication-Results below the one my server prepends.
    raw = (
        "Authentication-Results: mx.example.org; dmarc=fail header.from=example.org\n"
        "Authentication-Results: evil; dmarc=pass header.from=example.org\n"
    )
    assert not parse_headers(mail("x@evil", ANA, BOB, 1, raw)).authenticated


def test_a_sent_copy_makes_the_inbox_copy_mine(store: Store) -> None:
    put(store, "INBOX", mail("q1@example.com", BOB, ANA, 5))
    reply = mail("r1@example.org", ANA, BOB, 1)
    put(store, "INBOX", reply)  # e.g. a Bcc to myself, seen first
    put(store, "Sent", reply)
    assert bob(store)["reply_owed"] is False and bob(store)["emails_sent"] == 2


@pytest.mark.parametrize("attacker_first", [False, True])
def test_a_reused_message_id_neither_steals_nor_bends_the_message(
    store: Store, attacker_first: bool
) -> None:
    real = mail("q1@example.com", BOB, ANA, 5)
    cc = ", ".join(f"p{n}@evil.example" for n in range(25))
    forged = mail("q1@example.com", "mallory@evil.example", ANA, 4, f"Cc: {cc}\n")
    put(store, "INBOX", *((forged, real) if attacker_first else (real, forged)))
    stats = bob(store)
    assert stats["reply_owed"] is True and stats["emails_received"] == 1
    assert stats["mass_emails"] == 0
    assert store.message_count() == 4  # the two above and the two in history


def test_real_copies_of_one_message_still_count_once(store: Store) -> None:
    raw = mail("q1@example.com", BOB, ANA, 5)
    put(store, "INBOX", raw)
    put(store, "Archive", raw)
    assert store.message_count() == 3 and bob(store)["emails_received"] == 1


def test_one_list_post_header_cannot_turn_a_person_into_a_list(store: Store) -> None:
    put(store, "INBOX", mail("q1@example.com", BOB, ANA, 5))
    poison = "List-Id: <bob.example.com>\nList-Post: <mailto:bob@example.com>\n"
    put(store, "INBOX", mail("p1@evil.example", "mallory@evil.example", ANA, 2, poison))
    assert bob(store)["reply_owed"] is True  # Bob is still a person


def test_a_real_list_address_is_still_not_a_person(store: Store) -> None:
    lists = "List-Id: <dev.lists.example.org>\nList-Post: <mailto:dev@lists.example.org>\n"
    put(store, "INBOX", mail("l1@x", "carla@example.net", "dev@lists.example.org", 3, lists))
    put(store, "Sent", mail("l2@example.org", ANA, "dev@lists.example.org", 2))
    network = load_network(CONFIG, store, NOW)
    assert not any("dev@lists.example.org" in r.person.emails for r in network.reports)


def test_references_to_other_peoples_messages_merge_no_threads() -> None:
    from agent.config.settings import parse_config as config_of
    from agent.core.identity import Identity
    from agent.core.interactions import MessageRecord, derive

    ident = Identity(config_of({"me": {"emails": [ANA]}, "database": {"url": "sqlite://"}}))
    t0 = NOW - timedelta(days=10)
    mine = MessageRecord("m1", t0, ANA, None, None, to=("carla@x.org",))
    theirs = MessageRecord("b1", t0 + timedelta(hours=1), BOB, None, None, to=(ANA,))
    # Mallory references my message to Carla, which she never saw, to bend Bob's thread.
    forged = MessageRecord("x1", t0 + timedelta(hours=2), "mallory@evil.example", None, None,
                           to=(ANA,), refs=("m1", "b1"))  # fmt: skip
    derived = derive([mine, theirs, forged], [], ident)
    threads = {i.key: i.thread for items in derived.by_person.values() for i in items}
    assert threads["x1"] != threads["m1"] and threads["x1"] != threads["b1"]
    # A real reply that names its parent still joins it.
    reply = MessageRecord("c1", t0 + timedelta(hours=3), "carla@x.org", None, None,
                          to=(ANA,), refs=("m1",))  # fmt: skip
    derived = derive([mine, reply], [], ident)
    threads = {i.key: i.thread for items in derived.by_person.values() for i in items}
    assert threads["c1"] == threads["m1"]


def test_escapes_in_names_never_reach_the_terminal(store: Store, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent.cli.main import main

    name = (
        "=?utf-8?b?"
        + __import__("base64")
        .b64encode("\x1b]0;pwned\x07Bob\x1b[2J\u202eyeM\n| 99 | forged".encode())
        .decode()
        + "?="
    )
    put(store, "INBOX", mail("q1@example.com", f"{name} <{BOB}>", ANA, 5))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[me]\nemails = ["{ANA}"]\ntimezone = "UTC"\n\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/agent.db"\n'
    )
    for args in (["people"], ["people", "--format", "json"], ["person", BOB],
                 ["person", BOB, "--format", "json"]):  # fmt: skip
        result = CliRunner().invoke(main, ["--config", str(config), *args, "--as-of", "2026-11-20"])
        assert result.exit_code == 0, result.output
        assert not any(c in result.output for c in "\x1b\x07\u202e"), args
        assert "| 99 | forged" not in result.output.splitlines()


def test_a_fifo_as_rules_file_is_refused_at_once(tmp_path: Path) -> None:
    import os

    from agent.errors import UserError
    from rules.loader import load_rules

    fifo = tmp_path / "rules.yaml"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        load_rules([fifo])


def test_a_rules_file_that_does_not_parse_never_echoes_its_lines(tmp_path: Path) -> None:
    from agent.errors import UserError
    from rules.loader import load_rules

    secret = tmp_path / "secret.txt"
    secret.write_text("root:$6$very-secret-hash:19000:0:99999:7:::\n\tmore: [\n")
    link = tmp_path / "rules.yaml"
    link.symlink_to(secret)
    with pytest.raises(UserError) as raised:
        load_rules([link])
    assert "very-secret-hash" not in str(raised.value)


@pytest.mark.parametrize("name", ["../outside", "/etc/passwd", "sub/x", ".."])
def test_a_credential_stays_inside_the_credentials_directory(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.config.secrets import SecretSpec, resolve
    from agent.errors import UserError

    (tmp_path / "creds").mkdir()
    (tmp_path / "outside").write_text("not yours")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    with pytest.raises(UserError, match="plain file name"):
        resolve(SecretSpec("credential", name))


def _calendar(*rules: str) -> str:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:bomb-{n}@evil\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:20250105T100000Z\r\nDTEND:20250105T110000Z\r\nRRULE:{rule}\r\n"
        f"ORGANIZER:mailto:{BOB}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{ANA}\r\nEND:VEVENT\r\n"
        for n, rule in enumerate(rules)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n{events}END:VCALENDAR\r\n"


@pytest.mark.parametrize(
    "rule",
    ["FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=SECONDLY", "FREQ=MINUTELY;INTERVAL=1",
     "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31"],
)  # fmt: skip
def test_recurrence_bombs_are_skipped_at_once_with_a_warning(rule: str) -> None:
    import time

    from connectors.calendar.ical import parse_calendar

    started = time.monotonic()
    parsed = parse_calendar(_calendar(*[rule] * 10), CONFIG.me, NOW, "feed")
    assert time.monotonic() - started < 2
    assert parsed.meetings == [] and any("skipped" in w for w in parsed.warnings)


def test_a_calendar_cannot_store_more_than_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.calendar import ical

    monkeypatch.setattr(ical, "MAX_TEXT_OCCURRENCES", 500)  # 50,000 in real use
    parsed = ical.parse_calendar(_calendar(*["FREQ=DAILY"] * 12), CONFIG.me, NOW, "feed")
    assert len(parsed.meetings) == 500
    assert any("budget" in w for w in parsed.warnings)


def test_a_real_daily_meeting_is_not_refused() -> None:
    from connectors.calendar.ical import parse_calendar

    parsed = parse_calendar(_calendar("FREQ=WEEKLY;COUNT=10"), CONFIG.me, NOW, "feed")
    assert len(parsed.meetings) == 10 and parsed.warnings == []


def test_a_full_disk_is_one_line_and_the_next_sync_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from click.testing import CliRunner
    from sqlalchemy.exc import OperationalError

    from agent.cli.main import main

    root = tmp_path / "Mail"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    (root / "cur" / "1.a:2,S").write_bytes(mail("q1@example.com", BOB, ANA, 5))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[me]\nemails = ["{ANA}"]\ntimezone = "UTC"\n\n[database]\n'
        f'url = "sqlite:///{tmp_path}/agent.db"\n\n[[accounts]]\nname = "home"\n'
        f'type = "maildir"\npath = "{root}"\n'
    )
    real = Store.ingest

    def full(*_args: object, **_kw: object) -> int:
        orig = sqlite3.OperationalError("database or disk is full")
        raise OperationalError("INSERT INTO messages ...", {}, orig)

    monkeypatch.setattr(Store, "ingest", full)
    result = CliRunner().invoke(main, ["--config", str(config), "sync"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: the disk is full")
    assert "INSERT" not in result.output
    monkeypatch.setattr(Store, "ingest", real)
    result = CliRunner().invoke(main, ["--config", str(config), "sync"])
    assert result.exit_code == 0 and "1 new message" in result.output


def test_a_calendar_password_over_plain_http_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parse_config({
        "me": {"emails": [ANA]}, "database": {"url": "sqlite://"},
        "calendars": [{"name": "work", "type": "caldav", "url": "http://dav.example.org/",
                       "username": "ana", "password_env": "DAV"}],
    })  # fmt: skip
    assert any("clear text" in r.getMessage() for r in caplog.records)


def test_thousands_of_recipients_are_counted_not_kept() -> None:
    from connectors.mail.headers import MAX_ADDRESSES

    cc = ", ".join(f"p{n}@example.net" for n in range(3000))
    meta = parse_headers(mail("big@x", BOB, ANA, 1, f"Cc: {cc}\n"))
    assert len(meta.cc) == MAX_ADDRESSES
    assert len(meta.recipients) + meta.recipients_dropped == 3001


def test_a_strangers_unanswered_invitation_is_no_meeting() -> None:
    from agent.config.settings import parse_config as config_of
    from agent.core.identity import Identity
    from agent.core.interactions import MeetingRecord, MessageRecord, derive

    ident = Identity(config_of({"me": {"emails": [ANA]}, "database": {"url": "sqlite://"}}))
    t0 = NOW - timedelta(days=40)
    spam = [MeetingRecord(f"s{n}", t0 + timedelta(days=n), "mallory@evil.example", "CONFIRMED",
                          ((ANA, "", "NEEDS-ACTION"), (BOB, "", "ACCEPTED")))
            for n in range(31)]  # fmt: skip
    derived = derive([], spam, ident)
    assert BOB not in derived.by_person and "mallory@evil.example" not in derived.by_person
    # The same invitation from a tie (I wrote to Carla), or accepted, is a meeting.
    mail_to_carla = MessageRecord("m1", t0, ANA, None, None, to=("carla@x.org",))
    from_tie = MeetingRecord(
        "c1",
        t0 + timedelta(days=1),
        "carla@x.org",
        "CONFIRMED",
        ((ANA, "", "NEEDS-ACTION"), ("carla@x.org", "", "ACCEPTED")),
    )
    accepted = MeetingRecord("a1", t0 + timedelta(days=2), "dora@y.org", "CONFIRMED",
                             ((ANA, "", "ACCEPTED"), ("dora@y.org", "", "ACCEPTED")))  # fmt: skip
    derived = derive([mail_to_carla], [from_tie, accepted], ident)
    assert [i.kind for i in derived.by_person["carla@x.org"]] == ["out", "meeting"]
    assert [i.kind for i in derived.by_person["dora@y.org"]] == ["meeting"]


@pytest.mark.parametrize("charset", ["utf-8", "latin-1"])
def test_cr_cr_lf_lines_as_courier_serves_them(charset: str) -> None:
    raw = (
        "From: Jürgen <j@example.de>\r\r\nTo: ana@example.org\r\r\nCc: bob@example.com\r\r\n"
        "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\r\nMessage-ID: <crcrlf@x>\r\r\n\r\r\nbody"
    ).encode(charset)
    meta = parse_headers(raw, NOW)
    assert [a.email for a in meta.to + meta.cc] == [ANA, BOB]
    assert meta.date_source == "header" and meta.key == "crcrlf@x"
    assert meta.sender is not None and meta.sender.name == "Jürgen"
