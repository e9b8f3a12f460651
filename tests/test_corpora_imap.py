"""Real mail nobody here wrote, served by a real Dovecot: the IMAP path (header-only FETCH,
the connector's fast FETCH reader, the header parser) must record exactly what the Maildir
path records from the same files. Messy messages and an Enron mailbox, both ways."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from agent.config.settings import AccountConfig, MeConfig
from agent.store import schema as s
from agent.store.database import Store
from connectors.mail.headers import parse_headers
from connectors.mail.imap import ImapConnector
from connectors.mail.maildir import MaildirConnector
from tests.servers.common import corpora
from tests.servers.dovecot import DovecotServer

pytestmark = [pytest.mark.corpora, pytest.mark.dovecot]

ME = MeConfig("Me", ("me@example.org",), "UTC")
EML_SETS = ("cpython_test_email", "mail-parser", "flanker", "talon", "spamassassin")
SENT_LIKE = {"sent", "_sent_mail", "sent_items"}


def snapshot(store: Store) -> dict[str, Any]:
    """Everything the sync recorded about the messages, independent of how they arrived."""
    a, r = s.message_addresses.c, s.message_refs.c
    with store.engine.connect() as conn:
        messages = {
            row.key: (row.sender, row.sender_name, row.automated, row.recipient_count,
                      row.in_reply_to, row.date if row.date_source == "header" else None,
                      row.topic is not None, row.conversation, row.reply)
            for row in conn.execute(select(s.messages))
        }  # fmt: skip
        addresses = set(conn.execute(select(a.key, a.role, a.email, a.name)).all())
        refs = set(conn.execute(select(r.key, r.ref)).all())
    return {"messages": messages, "addresses": addresses, "refs": refs}


def both_ways(files: list[tuple[str, Path]], server: DovecotServer, tmp: Path) -> None:
    maildir = tmp / "Maildir"
    for index, (folder, source) in enumerate(files):
        path = maildir if folder == "INBOX" else maildir / f".{folder}"
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        raw = source.read_bytes()
        mtime = source.stat().st_mtime
        (path / "cur" / f"{index}.corpus:2,S").write_bytes(raw)
        os.utime(path / "cur" / f"{index}.corpus:2,S", (mtime, mtime))
        server.add_message(raw, folder, mtime=mtime)
    folders = tuple(sorted({f for f, _ in files}))
    local = Store.open(f"sqlite:///{tmp}/maildir.db")
    MaildirConnector(AccountConfig("m", "maildir", path=str(maildir), folders=folders), ME).sync(
        local
    )
    remote = Store.open(f"sqlite:///{tmp}/imap.db")
    synced = ImapConnector(server.account(folders=folders), ME).sync(remote)
    assert synced == local.message_count()
    expected, got = snapshot(local), snapshot(remote)
    # A few corpus files share a Message-ID (or, without one, From/To/Date/Subject) but not
    # their other headers; which copy's sender is kept then follows the order the files are
    # read in, which differs between a directory listing and UIDs. Addresses and references
    # are the union of all copies either way.
    # A reused Message-ID with another sender or Date is a message of its own (key
    # "<id>#<hash>"); which of the two keeps the plain key follows the reading order too.
    shared = duplicate_keys(f for _, f in files)
    assert len(shared) < len(files) // 10  # test suites reuse sample messages

    def base(key: str) -> str:
        return key.split("#", 1)[0] if key.split("#", 1)[0] in shared else key

    for seen in (expected, got):
        seen["messages"] = {k: v for k, v in seen["messages"].items() if base(k) not in shared}
        seen["addresses"] = {(base(k), *rest) for k, *rest in seen["addresses"]}
        seen["refs"] = {(base(k), ref) for k, ref in seen["refs"]}
    for part in ("messages", "addresses", "refs"):
        assert got[part] == expected[part], part


def duplicate_keys(paths: Iterable[Path]) -> set[str]:
    counts: Counter[str] = Counter()
    for path in paths:
        counts[parse_headers(path.read_bytes()).key] += 1  # stops at the header's end
    return {key for key, n in counts.items() if n > 1}


def test_messy_messages_through_dovecot_match_the_maildir_path(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    root = corpora() / "eml"
    files = [("INBOX", p) for name in EML_SETS for p in sorted((root / name).rglob("*"))
             if p.is_file()]  # fmt: skip
    both_ways(files, dovecot, tmp_path)


def test_an_enron_mailbox_through_dovecot_matches_the_maildir_path(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    root = corpora() / "enron" / "maildir" / "cuilla-m"
    files = [
        ("Sent" if p.relative_to(root).parts[0] in SENT_LIKE else "INBOX", p)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]
    both_ways(files, dovecot, tmp_path)
