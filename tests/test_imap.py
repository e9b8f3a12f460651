"""The IMAP connector against a real Dovecot: what it stores, and how little it asks for."""

from __future__ import annotations

import logging
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from imapclient import SocketTimeout

from agent.config.secrets import SecretSpec
from agent.config.settings import AccountConfig
from agent.store.database import Store
from connectors.mail.imap import ImapConnector
from connectors.mail.maildir import MaildirConnector
from tests.imap_helpers import (
    ME,
    ME_CONFIG,
    Recorder,
    addresses,
    fill,
    keys,
    locations,
    message,
    open_store,
    senders,
)
from tests.servers.dovecot import DovecotServer


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "agent.db")


def _sync(
    server: DovecotServer, store: Store, factory: Recorder | None = None, **kw: object
) -> int:
    account = server.account(**kw)
    if factory is None:
        return ImapConnector(account, ME_CONFIG).sync(store)
    return ImapConnector(account, ME_CONFIG, client_factory=factory).sync(store)


@pytest.mark.dovecot
def test_sync_reads_inbox_and_sent_in_batches(dovecot: DovecotServer, store: Store) -> None:
    fill(dovecot, inbox=5, sent=3)
    seen: list[tuple[object, ...]] = []
    connector = ImapConnector(dovecot.account(batch_size=2), ME_CONFIG)
    assert connector.sync(store, lambda *args: seen.append(args)) == 8
    assert keys(store) == {f"{n}@test" for n in (*range(5), *range(100, 103))}
    assert senders(store)["0@test"] == ("bob@example.com", "Bob Meyer")
    assert senders(store)["100@test"] == (ME, "Alice")
    found = addresses(store)
    assert ("0@test", "to", ME, None) in found
    assert ("100@test", "to", "carla@example.com", "Carla Diaz") in found
    assert ("100@test", "bcc", "dan@example.com", None) in found
    assert seen == [
        ("dovecot", "INBOX", 2, 5), ("dovecot", "INBOX", 4, 5), ("dovecot", "INBOX", 5, 5),
        ("dovecot", "Sent", 2, 3), ("dovecot", "Sent", 3, 3),
    ]  # fmt: skip


@pytest.mark.dovecot
def test_cursor_and_locations_follow_the_server(dovecot: DovecotServer, store: Store) -> None:
    fill(dovecot, inbox=3, sent=1)
    _sync(dovecot, store, batch_size=2)
    validity = dovecot.status("INBOX")["uidvalidity"]
    cursor = store.get_cursor("dovecot", "INBOX")
    assert cursor is not None
    assert cursor["uidvalidity"] == validity
    assert (cursor["uidnext"], cursor["last_uid"]) == (4, 3)
    assert "highestmodseq" in cursor  # Dovecot has CONDSTORE
    assert [(v, loc) for _, v, loc, _ in locations(store, "INBOX")] == [
        (str(validity), uid) for uid in ("1", "2", "3")
    ]


@pytest.mark.dovecot
def test_second_sync_only_asks_status(dovecot: DovecotServer, store: Store) -> None:
    fill(dovecot, inbox=3, sent=2)
    assert _sync(dovecot, store) == 5
    recorder = Recorder()
    assert _sync(dovecot, store, recorder) == 0
    assert recorder.selects == 0
    assert recorder.fetched == []


@pytest.mark.dovecot
def test_new_mail_is_all_that_is_fetched(dovecot: DovecotServer, store: Store) -> None:
    fill(dovecot, inbox=4, sent=2)
    _sync(dovecot, store, batch_size=3)
    dovecot.add_message(message(50))
    recorder = Recorder()
    assert _sync(dovecot, store, recorder, batch_size=3) == 1
    assert recorder.fetched == [5]
    assert recorder.selects == 1  # Sent is unchanged and is not selected
    assert "50@test" in keys(store)


@pytest.mark.dovecot
def test_empty_folder_then_first_message(dovecot: DovecotServer, store: Store) -> None:
    assert _sync(dovecot, store) == 0
    assert store.get_cursor("dovecot", "INBOX") == {
        "uidvalidity": dovecot.status("INBOX")["uidvalidity"],
        "uidnext": 1,
        "last_uid": 0,
        "highestmodseq": store.get_cursor("dovecot", "INBOX")["highestmodseq"],  # type: ignore[index]
    }
    dovecot.save(message(1))
    assert _sync(dovecot, store) == 1


@pytest.mark.dovecot
def test_same_message_in_inbox_and_sent_is_one_message(
    dovecot: DovecotServer, store: Store
) -> None:
    copy = message(7, sender=f"Alice <{ME}>", to=ME, extra="Bcc: eve@example.com")
    dovecot.add_message(copy)
    dovecot.add_message(copy, folder="Sent")
    assert _sync(dovecot, store) == 1
    assert len(locations(store)) == 2


@pytest.mark.dovecot
def test_uidvalidity_change_rescans_without_duplicates(
    dovecot: DovecotServer, store: Store
) -> None:
    fill(dovecot, inbox=4, sent=1)
    assert _sync(dovecot, store, batch_size=3) == 5
    old = dovecot.status("INBOX")["uidvalidity"]
    dovecot.set_uidvalidity("INBOX", old + 1000)
    dovecot.add_message(message(60))
    recorder = Recorder()
    assert _sync(dovecot, store, recorder, batch_size=3) == 1
    assert sorted(recorder.fetched) == [1, 2, 3, 4, 5]  # the whole folder, read again
    assert store.message_count() == 6
    assert len(keys(store)) == 6
    rescanned = [row for row in locations(store, "INBOX") if row[1] == str(old + 1000)]
    assert len(rescanned) == 5
    cursor = store.get_cursor("dovecot", "INBOX")
    assert cursor is not None and cursor["uidvalidity"] == old + 1000


@pytest.mark.dovecot
def test_imap_and_maildir_agree(dovecot: DovecotServer, tmp_path: Path) -> None:
    fill(dovecot, inbox=6, sent=3)
    dovecot.add_message(message(70, msgid=None, date=None), mtime=1_700_000_000)
    dovecot.add_message(
        message(71, sender="=?UTF-8?Q?J=C3=BCrgen?= <jurgen@example.de>",
                to="a@example.org, B <b@example.org>", extra="Cc: c@example.org")
    )  # fmt: skip
    via_imap = open_store(tmp_path / "imap.db")
    via_maildir = open_store(tmp_path / "maildir.db")
    assert _sync(dovecot, via_imap, batch_size=4) == 11
    maildir = AccountConfig(name="dovecot", type="maildir", path=str(dovecot.maildir))
    assert MaildirConnector(maildir, ME_CONFIG).sync(via_maildir) == 11
    assert keys(via_imap) == keys(via_maildir)
    assert addresses(via_imap) == addresses(via_maildir)
    assert _rows(via_imap) == _rows(via_maildir)


def _rows(store: Store) -> set[tuple[object, ...]]:
    # The topic hash is keyed per database (schema.store_keys): equal within one store, not
    # across two; that it is there at all is what both paths must agree on.
    return {(*row[:7], row.topic is not None, *row[8:]) for row in store.iter_messages()}


@pytest.mark.dovecot
def test_missing_message_id_and_bad_date_fall_back_to_internaldate(
    dovecot: DovecotServer, store: Store
) -> None:
    delivered = datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)
    dovecot.add_message(message(1, msgid=None, date="not a date"), mtime=delivered.timestamp())
    dovecot.add_message(message(2, msgid=None, date=None), mtime=delivered.timestamp() + 60)
    assert _sync(dovecot, store) == 2
    rows = sorted(store.iter_messages(), key=lambda r: r.date)
    assert [r.date for r in rows] == [delivered, delivered.replace(minute=9)]
    assert all(r.key.startswith("h:") for r in rows)
    assert all(r.sender == "bob@example.com" for r in rows)
    with store.engine.connect() as conn:
        sources = set(conn.exec_driver_sql("select date_source from messages").scalars())
    assert sources == {"fallback"}


@pytest.mark.dovecot
def test_8bit_and_encoded_word_headers(dovecot: DovecotServer, store: Store) -> None:
    raw = [
        b"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\n",
        'From: "Zoë Ångström" <zoe@example.se>\r\n'.encode(),
        b"From: Fran\xe7ois Lef\xe8vre <francois@example.fr>\r\n",
        b"From: =?iso-8859-1?B?Sm9z6Q==?= <jose@example.es>\r\n",
    ]
    for n, sender in enumerate(raw):
        dovecot.add_message(
            sender + f"To: {ME}\r\nMessage-ID: <8bit{n}@test>\r\n"
            f"Date: Tue, 2 Jan 2024 10:0{n}:00 +0000\r\nSubject: =?UTF-8?B?w6TDtsO8?=\r\n\r\nx\r\n"
            .encode()
        )  # fmt: skip
    assert _sync(dovecot, store) == 4
    names = {key: name for key, (_, name) in senders(store).items()}
    assert names == {
        "8bit0@test": "Jürgen Müller",
        "8bit1@test": "Zoë Ångström",
        "8bit2@test": "François Lefèvre",
        "8bit3@test": "José",
    }


@pytest.mark.dovecot
def test_configured_folders_only(dovecot: DovecotServer, store: Store) -> None:
    fill(dovecot, inbox=2, sent=2)
    assert _sync(dovecot, store, folders=("Sent",)) == 2
    assert {row[0] for row in locations(store)} == {"Sent"}


@pytest.mark.dovecot
def test_check_lists_folders_and_counts(dovecot: DovecotServer) -> None:
    fill(dovecot, inbox=2, sent=1)
    description = ImapConnector(dovecot.account(), ME_CONFIG).check()
    assert description == f"alice@127.0.0.1:{dovecot.port}: INBOX (2), Sent (1)"


@pytest.mark.dovecot
@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_with_ca_file(dovecot_tls: DovecotServer, store: Store, security: str) -> None:
    fill(dovecot_tls, inbox=2, sent=1)
    port = dovecot_tls.port if security == "ssl" else dovecot_tls.starttls_port
    account = dovecot_tls.account(security=security, port=port, ca_file=str(dovecot_tls.cert))
    assert ImapConnector(account, ME_CONFIG).sync(store) == 3


# -- without a server: the login and transport choices, seen through a fake client ----------


class FakeClient:
    """Just enough IMAPClient for check(); records how it was made and logged in to."""

    made: ClassVar[list[tuple[tuple[Any, ...], dict[str, Any]]]] = []
    logins: ClassVar[list[tuple[str, str, str]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.made.append((args, kwargs))

    def login(self, user: str, password: str) -> None:
        self.logins.append(("login", user, password))

    def oauth2_login(self, user: str, token: str) -> None:
        self.logins.append(("xoauth2", user, token))

    def list_folders(self) -> list[tuple[tuple[bytes, ...], bytes, str]]:
        return [((b"\\HasNoChildren",), b"/", "INBOX")]

    def folder_status(self, folder: str, items: list[str]) -> dict[bytes, int]:
        return {b"MESSAGES": 4}

    def logout(self) -> None:
        pass


@pytest.fixture
def fake() -> type[FakeClient]:
    FakeClient.made, FakeClient.logins = [], []
    return FakeClient


def test_oauth2_token_logs_in_with_xoauth2(fake: type[FakeClient]) -> None:
    token = SecretSpec(kind="plain", value="tok", purpose="OAuth2 token")
    account = AccountConfig(name="g", type="imap", host="imap.example.org", username=ME,
                            secret=token)  # fmt: skip
    assert ImapConnector(account, ME_CONFIG, client_factory=fake).check().endswith("INBOX (4)")
    assert fake.logins == [("xoauth2", ME, "tok")]
    ((args, kwargs),) = fake.made
    assert args == ("imap.example.org",) and kwargs["port"] == 993 and kwargs["ssl"] is True
    assert kwargs["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert kwargs["timeout"] == SocketTimeout(connect=30.0, read=30.0)


def test_plain_text_connects_without_tls_and_leaves_the_warning_to_the_config(
    fake: type[FakeClient], caplog: pytest.LogCaptureFixture
) -> None:
    secret = SecretSpec(kind="plain", value="pw")
    for host in ("127.0.0.1", "localhost", "::1", "imap.example.org"):
        account = AccountConfig(name="w", type="imap", host=host, port=143, security="none",
                                username=ME, secret=secret)  # fmt: skip
        ImapConnector(account, ME_CONFIG, client_factory=fake).check()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == []  # said once, when the config is read (test_config), not per connection
    assert all(kwargs["ssl"] is False for _, kwargs in fake.made)


@pytest.mark.dovecot
def test_every_folder_but_trash_junk_and_drafts_by_default(dovecot: DovecotServer) -> None:
    for n, folder in enumerate(("INBOX", "Sent", "Archive/2020", "Trash", "Junk", "Drafts")):
        dovecot.add_message(message(n), folder=folder)
    connector = ImapConnector(dovecot.account(), ME_CONFIG)
    description = connector.check()
    read = description.split(": ", 1)[1].split("; not read: ")
    assert read[0].startswith("INBOX (1)")
    assert {"Sent (1)", "Archive/2020 (1)"} <= set(read[0].split(", "))
    assert set(read[1].split(", ")) == {"Trash (trash)", "Junk (junk)", "Drafts (drafts)"}
