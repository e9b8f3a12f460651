"""The IMAP connector against Courier-IMAP, a second real server besides Dovecot.

Courier answers a header FETCH with its own shapes: the field names quoted in the echoed
item (BODY[HEADER.FIELDS ("FROM" "TO" …)]) and, for Maildir files stored with CRLF line
ends, lines ending in CR CR LF. Both must read as the same messages the Maildir path reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.settings import AccountConfig, MeConfig
from agent.store.database import Store
from connectors.mail.imap import ImapConnector
from connectors.mail.maildir import MaildirConnector
from tests.servers.courier import CourierServer

ME = MeConfig("Ana", ("ana@example.org",), "UTC")


def message(n: int, crlf: bool) -> bytes:
    text = (
        f"Message-ID: <courier-{n}@example.com>\nFrom: Bob Meyer <bob@example.com>\n"
        f"To: Ana <ana@example.org>, carla@example.com\nCc: dan@example.net\n"
        f"Date: Mon, {10 + n} Nov 2026 09:00:00 +0000\nSubject: Note {n}\n"
        f"References: <courier-{n - 1}@example.com>\n\nHello\n"
    )
    return text.replace("\n", "\r\n").encode() if crlf else text.encode()


def stored(store: Store) -> list[tuple[object, ...]]:
    rows = [(r.key, r.date, r.sender, r.sender_name, r.in_reply_to) for r in store.iter_messages()]
    addresses = sorted((a.key, a.role, a.email) for a in store.iter_addresses())
    refs = sorted((r.key, r.ref) for r in store.iter_refs())
    return [*sorted(rows), *addresses, *refs]


def test_courier_serves_the_same_messages_as_the_maildir_holds(
    courier: CourierServer, tmp_path: Path
) -> None:
    for n in range(1, 5):
        courier.add_message(message(n, crlf=n % 2 == 0))  # half stored with CRLF
    over_imap = Store.open(f"sqlite:///{tmp_path / 'imap.db'}")
    from_disk = Store.open(f"sqlite:///{tmp_path / 'disk.db'}")
    imap = ImapConnector(courier.account(folders=("INBOX",)), ME)
    assert imap.sync(over_imap) == 4
    maildir = AccountConfig("disk", "maildir", path=str(courier.maildir), folders=("INBOX",))
    assert MaildirConnector(maildir, ME).sync(from_disk) == 4
    assert stored(over_imap) == stored(from_disk)
    assert len({row[0] for row in stored(over_imap)[:4]}) == 4  # CR CR LF: none collapse
    assert imap.sync(over_imap) == 0  # Courier's UIDVALIDITY and UIDNEXT: nothing new
    courier.add_message(message(5, crlf=True))
    assert imap.sync(over_imap) == 1
    assert "INBOX (5)" in imap.check()
    over_imap.close()
    from_disk.close()


@pytest.mark.parametrize("crlf", [False, True])
def test_recipients_and_dates_survive_courier_s_line_ends(
    courier: CourierServer, tmp_path: Path, crlf: bool
) -> None:
    courier.add_message(message(1, crlf))
    store = Store.open(f"sqlite:///{tmp_path / 'agent.db'}")
    ImapConnector(courier.account(folders=("INBOX",)), ME).sync(store)
    [row] = list(store.iter_messages())
    assert row.date.isoformat() == "2026-11-11T09:00:00+00:00" and row.sender == "bob@example.com"
    emails = {a.email for a in store.iter_addresses()}
    assert {"ana@example.org", "carla@example.com", "dan@example.net"} <= emails
    store.close()
