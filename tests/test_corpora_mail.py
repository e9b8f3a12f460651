"""Robustness on real mail nobody here wrote: ../shared/corpora (eml test suites and Enron).

Each corpus becomes a throwaway Maildir (hard links, or symlinks across file systems, so the
11,600 Enron files cost no copying), synced by MaildirConnector into SQLite. Every file must be
recorded (one location per file: nothing dropped, nothing crashed), and a second sync adds nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agent.config.settings import AccountConfig, MeConfig
from agent.store import schema as s
from agent.store.database import Store
from connectors.mail.maildir import MaildirConnector
from tests.servers.common import corpora

pytestmark = pytest.mark.corpora

EML_SETS = ("cpython_test_email", "mail-parser", "flanker", "talon", "spamassassin")
ENRON = ("delainey-d", "fossum-d", "dean-c", "cuilla-m")
SENT_LIKE = {"sent", "_sent_mail", "sent_items"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path}/agent.db")
    yield opened
    opened.close()


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        target.symlink_to(source)


def _maildir(root: Path, folder: str) -> Path:
    path = root if folder == "INBOX" else root / f".{folder}"
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def _build(root: Path, files: list[tuple[str, Path]]) -> dict[str, int]:
    """Link each (folder, file) into the Maildir at ``root``; return files per folder."""
    counts: dict[str, int] = {}
    for index, (folder, source) in enumerate(files):
        directory = _maildir(root, folder)
        _link(source, directory / "cur" / f"{index}.corpus:2,S")
        counts[folder] = counts.get(folder, 0) + 1
    _maildir(root, "INBOX")
    return counts


def _sync_twice(store: Store, name: str, root: Path, counts: dict[str, int]) -> None:
    config = AccountConfig(name=name, type="maildir", path=str(root), folders=tuple(counts))
    connector = MaildirConnector(config, MeConfig("Me", ("me@example.org",), "UTC"))
    first = connector.sync(store)
    assert 0 < first <= sum(counts.values())
    for folder, expected in counts.items():
        assert len(store.known_locations(name, folder)) == expected, folder
    before = _table_counts(store)
    assert connector.sync(store) == 0
    assert _table_counts(store) == before


def _table_counts(store: Store) -> dict[str, int]:
    tables = (s.messages, s.message_addresses, s.message_refs, s.locations)
    with store.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
            for t in tables
        }


def test_eml_corpora(tmp_path: Path, store: Store) -> None:
    root = corpora() / "eml"
    files = []
    for name in EML_SETS:
        found = sorted(p for p in (root / name).rglob("*") if p.is_file())
        assert found, f"no files under {root / name}"
        files += [("INBOX", p) for p in found]
    counts = _build(tmp_path / "Maildir", files)
    _sync_twice(store, "eml", tmp_path / "Maildir", counts)
    rows = list(store.iter_messages())
    assert all(r.date.utcoffset() == timedelta(0) for r in rows)
    assert sum(1 for r in rows if r.automated) > 0  # the spam and bounce samples


@pytest.mark.parametrize("mailbox", ENRON)
def test_enron_mailbox(mailbox: str, tmp_path: Path, store: Store) -> None:
    root = corpora() / "enron" / "maildir" / mailbox
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        top = path.relative_to(root).parts[0]
        files.append(("Sent" if top in SENT_LIKE else "INBOX", path))
    counts = _build(tmp_path / "Maildir", files)
    assert counts.get("Sent", 0) > 0
    _sync_twice(store, mailbox, tmp_path / "Maildir", counts)
    senders = {r.sender for r in store.iter_messages()}
    assert len(senders) > 10  # tens of correspondents, as the corpus README says
