"""A vCard address book on disk: one .vcf file, or a folder of them (a vdir, as vdirsyncer and
khard keep it). Incremental by the files' sizes and modification times: an unchanged folder is
never read again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from agent.config.settings import AddressBookConfig, MeConfig
from agent.core.model import Card
from agent.errors import UserError
from connectors import net
from connectors.base import Progress, counted, no_progress
from connectors.contacts import vcard

if TYPE_CHECKING:
    from agent.store.database import Store

log = logging.getLogger(__name__)

SUFFIXES = (".vcf", ".vcard")
MAX_FILE_BYTES = 50 * 1024 * 1024  # one card with a photo is kilobytes; this is a whole export


class VcardConnector:
    NAME: ClassVar[str] = "vcard"

    def __init__(self, config: AddressBookConfig, me: MeConfig) -> None:
        self.config = config
        self.me = me
        self.path = Path(net.expand_path(config.path))

    def check(self) -> str:
        files = self._files()
        cards = self._read(files)
        emails = sum(len(c.emails) for c in cards)
        return (
            f"{counted(len(files), 'file')}, {counted(len(cards), 'card')}, "
            f"{counted(emails, 'address', 'addresses')}"
        )

    def sync(self, store: Store, progress: Progress = no_progress) -> int:
        files = self._files()
        state = {"files": {str(f): _stamp(f) for f in files}}
        if store.get_cursor(self.config.name, "") == state:
            return 0
        cards = self._read(files)
        progress(self.config.name, "", len(cards), len(cards))
        return store.replace_cards(self.config.name, cards, state)

    def _files(self) -> list[Path]:
        table = f"[address_books.{self.config.name}] path"
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            raise UserError(f"{table}: no file or folder {self.path}")
        found = sorted(p for p in self.path.iterdir() if p.suffix.lower() in SUFFIXES)
        return [p for p in found if p.is_file()]

    def _read(self, files: list[Path]) -> list[Card]:
        parsed = vcard.read_all(_contents(files))
        for warning in parsed.warnings:
            log.warning("%s", warning)
        return parsed.cards


def _contents(files: list[Path]) -> Iterator[tuple[bytes, str]]:
    for path in files:
        try:
            with path.open("rb") as fh:
                yield fh.read(MAX_FILE_BYTES), str(path)
        except OSError as exc:
            log.warning("%s: cannot read (%s); skipped", path, exc.strerror)


def _stamp(path: Path) -> list[Any]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]
