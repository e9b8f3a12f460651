"""What every command needs: the config (loaded once, on demand) and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from agent.config.settings import Config, load_config
from agent.errors import OperationError
from agent.store.database import Store, sqlite_path, writable


@dataclass
class App:
    config_path: str | None = None
    verbose: bool = False
    debug: bool = False
    _config: Config | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def store(self, write: bool = True) -> Store:
        """The store, opened on first use. ``write=False``: the command only reads, so a
        database this user cannot write (a read-only file or directory) is opened read-only
        instead of failing."""
        if self._store is None:
            url = self.config.database_url
            if write and not writable(url):
                raise OperationError(
                    f"cannot write the database {sqlite_path(url)}: this user may only read "
                    "it (read-only file or directory); `people`, `person`, `digest` and "
                    "`status` still work"
                )
            self._store = Store.open(url, readonly=not write and not writable(url))
        return self._store

    def as_of(self, day: date | None) -> datetime:
        """The end of ``day`` (default: now) in [me] timezone: what --as-of means."""
        return end_of_day(day, self.config) if day else datetime.now(self.config.me.tz)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def end_of_day(day: date, config: Config) -> datetime:
    start = datetime.combine(day + timedelta(days=1), time.min, tzinfo=config.me.tz)
    return start - timedelta(microseconds=1)
