"""Maildir++ connector: a local tree (cur/new/tmp at the root, .Folder subfolders), read-only.

Incremental by file name: a message's location is its base name (before ":2,"), which stays
the same when flags change or it moves from new/ to cur/. Files already stored are skipped
without being opened. A file that cannot be read is logged and left for the next sync; one
whose headers are garbage is still recorded, dated by its mtime.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, ClassVar

from agent.config.settings import AccountConfig, MeConfig
from agent.core.model import Located
from agent.errors import UserError
from agent.store.database import Store
from connectors.base import Progress, counted, no_progress
from connectors.mail.folders import is_sent, skip_reason
from connectors.mail.headers import parse_headers
from connectors.mail.text import MAX_BYTES as MAX_TEXT_BYTES
from connectors.mail.text import plain_text

log = logging.getLogger(__name__)

HEADER_LIMIT = 256 * 1024  # stop reading a header block here: no real one is larger
BATCH = 500


class MaildirConnector:
    NAME: ClassVar[str] = "maildir"

    def __init__(self, config: AccountConfig, me: MeConfig) -> None:
        self.config = config
        self.root = Path(os.path.expandvars(config.path)).expanduser()

    def check(self) -> str:
        folders = self.folders()
        count = sum(1 for f in folders for _ in _message_files(self._dir(f)))
        text = (
            f"{counted(len(folders), 'folder')} ({', '.join(folders)}), {counted(count, 'message')}"
        )
        skipped = [] if self.config.folders else self._skipped()
        if skipped:
            text += "; not read: " + ", ".join(f"{f} ({why})" for f, why in skipped)
        return text

    def _subfolders(self) -> list[str]:
        """Maildir++ subfolders (".Name" directories with cur/ or new/), as folder names."""
        found = []
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.name.startswith(".") and entry.name not in (".", "..") and entry.is_dir():
                path = Path(entry.path)
                if (path / "cur").is_dir() or (path / "new").is_dir():
                    found.append(entry.name[1:].replace(".", "/"))
        return found

    def _skipped(self) -> list[tuple[str, str]]:
        return [(f, why) for f in self._subfolders() if (why := skip_reason(f)) is not None]

    def folders(self) -> list[str]:
        """Folder names to read: the configured ones, or INBOX plus a Sent-like folder."""
        where = f"[accounts.{self.config.name}]"
        if not (self.root / "cur").is_dir() and not (self.root / "new").is_dir():
            raise UserError(f"{where} path: {self.root} is not a Maildir (no cur/ or new/)")
        if self.config.folders:
            missing = [f for f in self.config.folders if not self._dir(f).is_dir()]
            if missing:
                names = ", ".join(repr(f) for f in missing)
                raise UserError(f"{where} folders: no folder {names} in {self.root}")
            return list(self.config.folders)
        # Every folder but Trash, Junk and Drafts: replies are filed, not only kept in Sent.
        return ["INBOX", *(f for f in self._subfolders() if skip_reason(f) is None)]

    def message_text(self, folder: str, location: str) -> str:
        """The text of the message stored at ``location`` (its base file name), or ""."""
        for base, path in _message_files(self._dir(folder)):
            if base == location:
                try:
                    with path.open("rb") as fh:
                        return plain_text(fh.read(MAX_TEXT_BYTES))
                except OSError:
                    return ""
        return ""

    def _dir(self, folder: str) -> Path:
        if folder.upper() == "INBOX":
            return self.root
        return self.root / ("." + folder.replace("/", "."))

    def sync(self, store: Store, progress: Progress = no_progress) -> int:
        new = 0
        for folder in self.folders():
            new += self._sync_folder(store, folder, progress)
        return new

    def _sync_folder(self, store: Store, folder: str, progress: Progress) -> int:
        known = store.known_locations(self.config.name, folder)
        # A dict: a file listed in new/ and again in cur/ (moved while we list) is read once.
        files = dict(_message_files(self._dir(folder)))
        todo = [(base, path) for base, path in files.items() if base not in known]
        new = 0
        for start in range(0, len(todo), BATCH):
            batch = [self._read(folder, base, path) for base, path in todo[start : start + BATCH]]
            found = [item for item in batch if item is not None]
            new += store.ingest(self.config.name, folder, "", found, sent=is_sent(folder))
            progress(self.config.name, folder, min(start + BATCH, len(todo)), len(todo))
        return new

    def _read(self, folder: str, base: str, path: Path) -> Located | None:
        try:
            with path.open("rb") as fh:
                raw = _read_header_block(fh)
                mtime = datetime.fromtimestamp(os.fstat(fh.fileno()).st_mtime, UTC)
        except FileNotFoundError:
            return None  # moved or expunged by a mail client since we listed: seen next time
        except OSError as exc:
            # One unreadable file must not stop the account; not recorded, so retried next time.
            log.warning("%s: skipped, cannot read %s: %s", self.config.name, path, exc.strerror)
            return None
        meta = parse_headers(raw, fallback_date=mtime)
        for problem in meta.problems:
            log.debug("%s: %s", path, problem)
        return Located(folder=folder, location=base, meta=meta)


def _message_files(directory: Path) -> Iterator[tuple[str, Path]]:
    for sub in ("new", "cur"):
        try:
            entries = list(os.scandir(directory / sub))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue
            yield entry.name.split(":", 1)[0], Path(entry.path)


def _read_header_block(fh: BinaryIO) -> bytes:
    data = b""
    while len(data) < HEADER_LIMIT:
        chunk = fh.read(16384)
        if not chunk:
            break
        data += chunk
        end = _header_end(data)
        if end >= 0:
            return bytes(data[:end])
    return bytes(data)


def _header_end(data: bytes) -> int:
    ends = [i for i in (data.find(b"\n\n"), data.find(b"\r\n\r\n")) if i >= 0]
    return min(ends) if ends else -1
