"""The IMAP connector against Cyrus IMAP, a third real server (Dovecot, Courier, Cyrus).

Cyrus stores mail its own way and answers with its own shapes (a long CAPABILITY in the
LOGIN answer, SPECIAL-USE folders it created itself, its own UIDVALIDITY): the same
messages must come out as the header parser reads them from the raw text.
"""

from __future__ import annotations

from pathlib import Path

from agent.config.settings import MeConfig
from agent.store.database import Store
from connectors.mail.headers import parse_headers
from connectors.mail.imap import ImapConnector
from tests.servers.cyrus import CyrusServer
from tests.test_courier import message

ME = MeConfig("Ana", ("ana@example.org",), "UTC")


def test_cyrus_serves_what_the_header_parser_reads_from_the_raw_messages(
    cyrus: CyrusServer, tmp_path: Path
) -> None:
    raws = [message(n, crlf=True) for n in range(1, 5)]
    for raw in raws[:3]:
        cyrus.append(raw)
    cyrus.append(raws[3], "Sent")
    store = Store.open(f"sqlite:///{tmp_path / 'agent.db'}")
    imap = ImapConnector(cyrus.account(), ME)
    assert imap.sync(store) == 4
    expected = {parse_headers(r).key: parse_headers(r) for r in raws}
    rows = {r.key: r for r in store.iter_messages()}
    assert set(rows) == set(expected)
    for key, meta in expected.items():
        assert rows[key].date == meta.date and rows[key].in_reply_to == meta.in_reply_to
        assert rows[key].sender == (meta.sender.email if meta.sender else None)
    got = {(a.key, a.role, a.email) for a in store.iter_addresses() if a.role != "delivered"}
    want = {(k, role, a.email) for k, m in expected.items()
            for role, found in (("to", m.to), ("cc", m.cc)) for a in found}  # fmt: skip
    assert got == want
    sent = [r for r in store.iter_messages() if r.key == parse_headers(raws[3]).key]
    assert sent and sent[0].from_trusted  # Cyrus' own \Sent folder is known as the Sent folder
    assert imap.sync(store) == 0
    cyrus.append(message(5, crlf=True))
    assert imap.sync(store) == 1
    assert "INBOX (4)" in imap.check() and "Sent (1)" in imap.check()
    store.close()
