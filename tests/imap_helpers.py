"""Helpers for the IMAP tests: messages, a counting client, a store reader and faulty proxies."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from sqlalchemy import select

from agent.config.settings import MeConfig
from agent.store import schema as s
from agent.store.database import Store

ME = "alice@example.org"
ME_CONFIG = MeConfig(name="Alice", emails=(ME,), timezone="UTC")


def message(
    n: int,
    sender: str = "Bob Meyer <bob@example.com>",
    to: str = ME,
    date: str | None = "Mon, 01 Jan 2024 10:00:00 +0000",
    extra: str = "",
    msgid: str | None = "",
) -> bytes:
    """A small RFC 5322 message; ``msgid=""`` means ``<n@test>``, None means no Message-ID."""
    lines = [f"From: {sender}", f"To: {to}", f"Subject: message {n}"]
    if date is not None:
        lines.append(f"Date: {date}")
    if msgid is not None:
        lines.append(f"Message-ID: <{msgid or f'{n}@test'}>")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\nbody of message " + str(n) + "\r\n").encode()


def fill(server: Any, inbox: int, sent: int) -> None:
    """``inbox`` messages from Bob to me in INBOX, ``sent`` from me to Carla (Bcc Dan) in Sent."""
    for n in range(inbox):
        server.add_message(message(n, date=_date(n)))
    for n in range(100, 100 + sent):
        server.add_message(
            message(
                n, sender=f"Alice <{ME}>", to="Carla Diaz <carla@example.com>", date=_date(n),
                extra="Bcc: dan@example.com",
            ),
            folder="Sent",
        )  # fmt: skip


def _date(n: int) -> str:
    return format_datetime(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=n))


class CountingClient(IMAPClient):  # type: ignore[misc]  # imapclient ships no type hints
    """An IMAPClient that counts commands and records the UIDs it fetched (a test seam)."""

    calls: Counter[str]
    fetched: list[int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = Counter()
        self.fetched = []

    def select_folder(self, folder: Any, readonly: bool = False) -> Any:
        self.calls["select"] += 1
        return super().select_folder(folder, readonly=readonly)

    def fetch(self, messages: Any, data: Any, modifiers: Any = None) -> Any:
        self.calls["fetch"] += 1
        self.fetched.extend(messages)
        return super().fetch(messages, data, modifiers)


class Recorder:
    """A client_factory that keeps every CountingClient it made."""

    def __init__(self) -> None:
        self.clients: list[CountingClient] = []

    def __call__(self, *args: Any, **kwargs: Any) -> CountingClient:
        client = CountingClient(*args, **kwargs)
        self.clients.append(client)
        return client

    @property
    def selects(self) -> int:
        return sum(c.calls["select"] for c in self.clients)

    @property
    def fetched(self) -> list[int]:
        return [uid for c in self.clients for uid in c.fetched]


def open_store(path: Path) -> Store:
    return Store.open(f"sqlite:///{path}")


def keys(store: Store) -> set[str]:
    return {row.key for row in store.iter_messages()}


def addresses(store: Store) -> set[tuple[str, str, str, str | None]]:
    return {(r.key, r.role, r.email, r.name) for r in store.iter_addresses()}


def senders(store: Store) -> dict[str, tuple[str | None, str | None]]:
    return {r.key: (r.sender, r.sender_name) for r in store.iter_messages()}


def locations(store: Store, folder: str | None = None) -> list[tuple[str, str, str, str]]:
    """(folder, validity, location, key) rows, sorted."""
    query = select(s.locations.c.folder, s.locations.c.validity, s.locations.c.location,
                   s.locations.c.key)  # fmt: skip
    if folder is not None:
        query = query.where(s.locations.c.folder == folder)
    with store.engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(query))


Pipe = tuple[Callable[..., None], tuple[Any, ...]]


class _Proxy:
    """A TCP proxy from a free loopback port to ``target``: per connection, the threads that
    subclasses name in ``_pipes`` carry the bytes each way."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self._sockets += [client, server]
            for run, args in self._pipes(client, server):
                threading.Thread(target=run, args=args, daemon=True).start()

    def _pipes(self, client: socket.socket, server: socket.socket) -> list[Pipe]:
        raise NotImplementedError


class DropProxy(_Proxy):
    """A TCP proxy to ``port`` that cuts the connection during the ``drop_at``-th UID FETCH.

    The FETCH reaches the server and ``leak`` bytes of its answer reach the client, so the
    client sees a reply torn off mid-literal, as when a server or a NAT box dies.
    """

    def __init__(self, port: int, drop_at: int, leak: int = 300) -> None:
        self.drop_at = drop_at
        self.leak = leak
        self.fetches = 0
        self.dropped = threading.Event()
        super().__init__(port)

    def _pipes(self, client: socket.socket, server: socket.socket) -> list[Pipe]:
        cut = threading.Event()
        return [(self._upstream, (client, server, cut)), (self._downstream, (server, client, cut))]

    def _upstream(self, client: socket.socket, server: socket.socket, cut: threading.Event) -> None:
        while data := _recv(client):
            if b" UID FETCH " in data.upper():
                self.fetches += 1
                if self.fetches == self.drop_at:
                    cut.set()
            with contextlib.suppress(OSError):
                server.sendall(data)
        _close(server)

    def _downstream(
        self, server: socket.socket, client: socket.socket, cut: threading.Event
    ) -> None:
        budget: int | None = None
        while data := _recv(server):
            if cut.is_set():
                budget = self.leak if budget is None else budget
                data, budget = data[:budget], budget - len(data[:budget])
            with contextlib.suppress(OSError):
                client.sendall(data)
            if budget == 0:
                break
        if cut.is_set():
            self.dropped.set()
        _close(client)
        _close(server)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class SlowProxy(_Proxy):
    """A TCP proxy to ``port`` that hands the server's replies on at ``rate`` bytes a second.

    A slow link or a busy server, as a user's may be: a UID FETCH of a few hundred headers takes
    seconds, so a client is reliably caught in the middle of one. ``pause()`` stops the replies
    altogether (a stalled server: the client blocks in a socket read) and returns only once no
    byte is in flight, so what the client has received is frozen until ``resume()``.
    """

    def __init__(self, port: int, rate: int, chunk: int = 256) -> None:
        self.rate = rate
        self.chunk = chunk
        self.fetches = 0  # UID FETCH commands seen
        self._pending: bytes | None = None  # tag of the UID FETCH whose reply is not complete
        self._reply_bytes = 0  # bytes of that reply handed to the client so far
        self._paused = False
        self._closed = False
        self._cond = threading.Condition()
        super().__init__(port)

    def wait_in_fetch(self, nth: int, timeout: float = 60.0) -> None:
        """Wait until the reply to the ``nth`` UID FETCH has begun reaching the client and has
        not finished; fails if that reply is already over (the rate is too high)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._in_fetch_locked(nth), timeout):
                raise AssertionError(
                    f"UID FETCH #{nth} not in flight within {timeout}s ({self.fetches} seen)"
                )

    def _in_fetch_locked(self, nth: int) -> bool:
        if self.fetches > nth or (self.fetches == nth and self._pending is None):
            raise AssertionError(f"UID FETCH #{nth} is over already: the proxy is too fast")
        return self.fetches == nth and self._pending is not None and self._reply_bytes > 0

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        super().close()

    def _pipes(self, client: socket.socket, server: socket.socket) -> list[Pipe]:
        return [(self._upstream, (client, server)), (self._downstream, (server, client))]

    def _upstream(self, client: socket.socket, server: socket.socket) -> None:
        while data := _recv(client):
            tag, _, rest = data.partition(b" ")
            if rest.upper().startswith(b"UID FETCH "):
                with self._cond:
                    self.fetches += 1
                    self._pending, self._reply_bytes = tag, 0
                    self._cond.notify_all()
            with contextlib.suppress(OSError):
                server.sendall(data)
        _close(server)

    def _downstream(self, server: socket.socket, client: socket.socket) -> None:
        tail = b""
        while data := _recv(server):
            for start in range(0, len(data), self.chunk):
                piece = data[start : start + self.chunk]
                with self._cond:
                    self._cond.wait_for(lambda: not self._paused or self._closed)
                    try:
                        client.sendall(piece)
                    except OSError:
                        _close(server)
                        return
                    tail = self._note(tail, piece)
                    self._cond.notify_all()
                time.sleep(len(piece) / self.rate)
        _close(client)

    def _note(self, tail: bytes, piece: bytes) -> bytes:
        """Count bytes of the pending reply; its tagged status line ends it. Returns the tail
        to keep: the status line may straddle two pieces."""
        seen = tail + piece
        if self._pending is not None:
            self._reply_bytes += len(piece)
            if b"\r\n" + self._pending + b" " in seen:
                self._pending = None
        return seen[-64:]
