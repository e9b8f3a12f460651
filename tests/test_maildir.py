"""The Maildir connector on real directory trees, into a real SQLite store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.config.settings import AccountConfig, MeConfig
from agent.errors import UserError
from agent.store.database import Store
from connectors.mail.maildir import MaildirConnector

ME = MeConfig(name="Ana", emails=("ana@example.org",), timezone="UTC")


def message(n: int, sender: str = "bob@example.com", to: str = "ana@example.org") -> bytes:
    return (
        f"From: Bob <{sender}>\r\nTo: {to}\r\n"
        f"Date: Tue, 05 Mar 2024 10:{n % 60:02d}:00 +0000\r\n"
        f"Message-ID: <m{n}@example.com>\r\nSubject: n{n}\r\n\r\nbody {n}\r\n"
    ).encode()


def make_maildir(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def deliver(folder: Path, name: str, data: bytes, sub: str = "cur") -> Path:
    target = folder / sub / name
    target.write_bytes(data)
    return target


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_maildir(tmp_path / "Mail")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path}/agent.db")
    yield opened
    opened.close()


def connector(root: Path, folders: tuple[str, ...] = ()) -> MaildirConnector:
    config = AccountConfig(name="home", type="maildir", path=str(root), folders=folders)
    return MaildirConnector(config, ME)


def test_every_folder_but_trash_junk_and_drafts_by_default(root: Path, store: Store) -> None:
    sent = make_maildir(root / ".Sent")
    make_maildir(root / ".Archive")
    for name in (".Trash", ".Junk", ".Drafts", ".Deleted Items", ".Papierkorb"):
        deliver(make_maildir(root / name), "9.a:2,S", message(9))
    deliver(root, "1.a:2,S", message(1))
    deliver(root, "2.a", message(2), "new")
    deliver(sent, "3.a:2,S", message(3, "ana@example.org", "bob@example.com"))
    deliver(root / ".Archive", "4.a:2,S", message(4))
    c = connector(root)
    assert c.folders() == ["INBOX", "Archive", "Sent"]
    assert c.check() == (
        "3 folders (INBOX, Archive, Sent), 4 messages; not read: Deleted Items (trash), "
        "Drafts (drafts), Junk (junk), Papierkorb (trash), Trash (trash)"
    )
    assert c.sync(store) == 4
    assert store.known_locations("home", "INBOX") == {"1.a", "2.a"}
    assert store.known_locations("home", "Archive") == {"4.a"}


def test_other_sent_names(root: Path) -> None:
    make_maildir(root / ".Sent Items")
    assert connector(root).folders() == ["INBOX", "Sent Items"]


def test_configured_folders(root: Path, store: Store) -> None:
    archive = make_maildir(root / ".Archive.2020")
    make_maildir(root / ".Sent")
    deliver(archive, "9.a:2,", message(9))
    c = connector(root, ("Archive/2020",))
    assert c.folders() == ["Archive/2020"]
    assert c.sync(store) == 1
    assert store.known_locations("home", "Archive/2020") == {"9.a"}


def test_missing_folders_and_non_maildirs(root: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"\[accounts.home\] folders: no folder 'Nope', 'Gone'"):
        connector(root, ("INBOX", "Nope", "Gone")).folders()
    (tmp_path / "plain").mkdir()
    with pytest.raises(UserError, match=r"\[accounts.home\] path: .* is not a Maildir"):
        connector(tmp_path / "plain").folders()
    with pytest.raises(UserError, match="is not a Maildir"):
        connector(tmp_path / "absent").sync(Store.open("sqlite://"))


def test_incremental_by_base_name(root: Path, store: Store) -> None:
    new_file = deliver(root, "1.a", message(1), "new")
    deliver(root, "2.a:2,", message(2))
    c = connector(root)
    assert c.sync(store) == 2
    # A mail client reads the new message (new/ -> cur/, flag S) and flags the other one.
    new_file.rename(root / "cur" / "1.a:2,S")
    (root / "cur" / "2.a:2,").rename(root / "cur" / "2.a:2,FS")
    assert c.sync(store) == 0
    assert store.known_locations("home", "INBOX") == {"1.a", "2.a"}
    deliver(root, "3.a", message(3), "new")
    assert c.sync(store) == 1
    assert store.message_count() == 3


def test_known_files_are_not_opened(
    root: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(root, "1.a:2,S", message(1))
    c = connector(root)
    c.sync(store)

    def no_reading(*_args: object) -> None:
        raise AssertionError("a known file was read again")

    monkeypatch.setattr(c, "_read", no_reading)
    assert c.sync(store) == 0


def test_same_file_in_new_and_cur_while_moving(root: Path, store: Store) -> None:
    deliver(root, "1.a", message(1), "new")
    deliver(root, "1.a:2,S", message(1))
    assert connector(root).sync(store) == 1
    assert store.known_locations("home", "INBOX") == {"1.a"}


def test_copies_in_two_folders_are_one_message(root: Path, store: Store) -> None:
    sent = make_maildir(root / ".Sent")
    deliver(root, "1.a:2,S", message(1))
    deliver(sent, "1.b:2,S", message(1))
    assert connector(root).sync(store) == 1
    assert store.message_count() == 1


def test_garbage_and_dateless_files_are_recorded(root: Path, store: Store) -> None:
    garbage = deliver(root, "g.a:2,", bytes(range(256)) * 40)
    empty = deliver(root, "e.a:2,", b"")
    dateless = deliver(root, "d.a:2,", b"From: bob@example.com\nMessage-ID: <d@x>\n\nhi\n")
    mtime = datetime(2023, 7, 1, 12, 0, tzinfo=UTC).timestamp()
    for path in (garbage, empty, dateless):
        os.utime(path, (mtime, mtime))
    deliver(root, ".hidden", message(5))  # dot files are not messages
    (root / "cur" / "subdir").mkdir()
    c = connector(root)
    c.sync(store)
    assert store.known_locations("home", "INBOX") == {"g.a", "e.a", "d.a"}
    rows = {r.key: r for r in store.iter_messages()}
    assert rows["d@x"].date == datetime(2023, 7, 1, 12, 0, tzinfo=UTC)
    assert rows["d@x"].sender == "bob@example.com"


def test_dateless_file_records_fallback_source(root: Path) -> None:
    path = deliver(root, "d.a:2,", b"From: bob@example.com\n\n")
    found = connector(root)._read("INBOX", "d.a", path)
    assert found is not None and found.meta.date_source == "fallback"


def test_unreadable_file_is_skipped_and_retried(
    root: Path, store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(root, "1.a:2,S", message(1))
    bad = deliver(root, "2.a:2,S", message(2))
    real_open = Path.open

    def failing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == bad:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", failing_open)
    c = connector(root)
    assert c.sync(store) == 1
    assert "cannot read" in caplog.text and "Permission denied" in caplog.text
    monkeypatch.undo()
    assert c.sync(store) == 1  # read the next time round
    assert store.known_locations("home", "INBOX") == {"1.a", "2.a"}


def test_vanished_file_is_seen_next_time(root: Path) -> None:
    assert connector(root)._read("INBOX", "x", root / "cur" / "gone:2,S") is None


def test_huge_header_block_is_cut(root: Path, store: Store) -> None:
    big = b"X-Junk: " + b"a" * 400_000 + b"\n"
    deliver(root, "1.a", b"Message-ID: <big@x>\nFrom: bob@example.com\n" + big + b"\nbody")
    assert connector(root).sync(store) == 1
    assert [r.key for r in store.iter_messages()] == ["big@x"]


def test_progress_is_reported(root: Path, store: Store) -> None:
    for n in range(3):
        deliver(root, f"{n}.a", message(n))
    calls = []
    connector(root).sync(store, lambda *args: calls.append(args))
    assert calls == [("home", "INBOX", 3, 3)]
