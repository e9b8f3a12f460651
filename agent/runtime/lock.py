"""One daemon per database.

SQLite: an exclusive ``flock`` on "<database file>.lock", which also records the holder's pid.
The kernel drops the lock when the process dies, even by kill -9, so there is never a stale lock
to clean up. PostgreSQL: a session-level advisory lock held on a dedicated connection for the
daemon's lifetime; the server drops it when that connection ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
import urllib.parse
import zlib
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from agent.errors import OperationError

log = logging.getLogger(__name__)

# A fixed 64-bit key for pg_advisory_lock: one namespace per database, the agent's name in it.
PG_LOCK_KEY = zlib.crc32(b"relationship-agent daemon")
PG_APP_NAME = "agent daemon pid {pid}"


class Lock(Protocol):
    def release(self) -> None: ...


def already_running(pid: int | None) -> OperationError:
    who = f" (pid {pid})" if pid else ""
    return OperationError(f"another agent is already running on this database{who}")


def acquire(engine: Engine) -> Lock:
    """Take the database's daemon lock or raise OperationError naming the holder's pid."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        path = sqlite_lock_path(url.database or "")
        return FileLock.acquire(path) if path else NoLock()
    return PgLock.acquire(engine)


def acquire_waiting(engine: Engine, seconds: float, step: float = 0.2) -> Lock:
    """The lock, waiting up to ``seconds`` for another sync to finish; then OperationError
    naming who holds it (a daemon holds it for as long as it runs)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return acquire(engine)
        except OperationError:
            if time.monotonic() >= deadline:
                pid = holder(engine)
                who = f" (pid {pid})" if pid else ""
                raise OperationError(
                    f"another agent is syncing this database{who}: a running daemon syncs on "
                    "its own schedule; otherwise wait for that sync to finish"
                ) from None
            time.sleep(step)


def holder(engine: Engine) -> int | None:
    """The pid of the daemon holding the lock, None when no daemon runs (for `agent status`)."""
    if engine.url.get_backend_name() == "sqlite":
        path = sqlite_lock_path(engine.url.database or "")
        return FileLock.holder(path) if path else None
    return PgLock.holder(engine)


def sqlite_lock_path(database: str) -> Path | None:
    if not database or database == ":memory:":
        return None  # an in-memory database cannot be shared: nothing to guard
    if database.startswith("file:"):  # a read-only open names the file as a URI
        database = urllib.parse.unquote(database.removeprefix("file:"))
    return Path(os.path.expanduser(database)).with_name(Path(database).name + ".lock")


class NoLock:
    def release(self) -> None:
        pass


class FileLock:
    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path) -> FileLock:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise already_running(pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd)

    @staticmethod
    def holder(path: Path) -> int | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            # A shared probe: it fails exactly when a daemon holds the exclusive lock.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        finally:
            os.close(fd)
        return None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock; the file stays for the next daemon
            self.fd = None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


class PgLock:
    def __init__(self, engine: Engine, conn: Connection) -> None:
        self.engine = engine
        self.conn: Connection | None = conn

    @classmethod
    def acquire(cls, engine: Engine) -> PgLock:
        # Its own engine without a pool: the lock's connection never mixes with the store's.
        own = create_engine(engine.url, poolclass=NullPool)
        conn = own.connect()
        # application_name carries our pid, so a second daemon can say who holds the lock.
        conn.execute(text("SELECT set_config('application_name', :name, false)"),
                     {"name": PG_APP_NAME.format(pid=os.getpid())})  # fmt: skip
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY}).scalar()
        conn.commit()
        if not got:
            conn.close()
            own.dispose()
            raise already_running(PgLock.holder(engine))
        return cls(own, conn)

    @staticmethod
    def holder(engine: Engine) -> int | None:
        query = text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :k"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        with engine.connect() as conn:
            name = conn.execute(query, {"k": PG_LOCK_KEY & 0xFFFFFFFF}).scalar()
        if name is None:
            return None
        prefix = PG_APP_NAME.format(pid="")
        return int(name[len(prefix) :]) if str(name).startswith(prefix) else -1

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                self.conn.commit()
            self.conn.close()
            self.conn = None
            self.engine.dispose()
