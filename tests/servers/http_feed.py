"""A real HTTP server on loopback serving calendar feeds, with the failure modes feeds have.

Not a plugin: tests use ``serve_feed()`` as a context manager (``serve_feed(body, tls=dir)``
serves HTTPS with a self-signed certificate made in ``dir``, ``feed.cert``). Paths:
``/cal.ics`` 200 with ETag and Last-Modified, 304 on a matching If-None-Match;
``/private.ics`` the same behind basic auth; ``/missing.ics`` 404; ``/error.ics`` 500;
``/page.ics`` an HTML page; ``/busy.ics`` 503 with Retry-After; ``/hang.ics`` never answers;
``/trickle.ics`` a byte every 0.2 s; ``/to-ftp.ics``, ``/to-local.ics`` (another loopback
port) and ``/to-self.ics`` (its own ``/cal.ics``) redirect.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.servers.common import self_signed

LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"


@dataclass
class Feed:
    port: int
    body: bytes = b""
    user: str = "ana"
    password: str = "feed-secret"
    retry_after: str = "120"
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    cert: Path | None = None  # the self-signed certificate when serving HTTPS
    other: int = 9  # a port on this machine that a redirect must not reach

    def url(self, path: str = "/cal.ics") -> str:
        scheme = "https" if self.cert else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        feed: Feed = self.server.feed
        feed.requests.append((self.path, dict(self.headers.items())))
        route = {
            "/cal.ics": self._calendar,
            "/private.ics": self._private,
            "/missing.ics": lambda: self._plain(404, b"not here"),
            "/error.ics": lambda: self._plain(500, b"boom"),
            "/page.ics": lambda: self._plain(200, b"<!doctype html><html>Log in</html>", "html"),
            "/busy.ics": self._busy,
            "/hang.ics": self._hang,
            "/trickle.ics": self._trickle,
            "/to-ftp.ics": lambda: self._redirect("ftp://127.0.0.1/cal.ics"),
            "/to-local.ics": lambda: self._redirect(f"http://127.0.0.1:{self.server.feed.other}/x"),
            "/to-self.ics": lambda: self._redirect("/cal.ics"),
        }.get(self.path, lambda: self._plain(404, b"unknown path"))
        route()

    def _calendar(self) -> None:
        feed: Feed = self.server.feed
        if self.headers.get("If-None-Match") == feed.etag:
            self.send_response(304)
            self.send_header("ETag", feed.etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar; charset=utf-8")
        self.send_header("ETag", feed.etag)
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.send_header("Content-Length", str(len(feed.body)))
        self.end_headers()
        self.wfile.write(feed.body)

    def _private(self) -> None:
        feed: Feed = self.server.feed
        token = base64.b64encode(f"{feed.user}:{feed.password}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {token}":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="feed"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._calendar()

    def _busy(self) -> None:
        self.send_response(503)
        self.send_header("Retry-After", self.server.feed.retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _hang(self) -> None:
        self.server.feed.release.wait(30)

    def _trickle(self) -> None:
        """A byte at a time, each well within a read timeout: only a deadline ends it."""
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.end_headers()
        for _ in range(200):
            if self.server.feed.release.wait(0.2):
                return
            try:
                self.wfile.write(b"B")
                self.wfile.flush()
            except OSError:
                return

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _plain(self, status: int, body: bytes, kind: str = "plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"text/{kind}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve_feed(body: bytes = b"", tls: Path | None = None) -> Iterator[Feed]:
    """Start the feed server on a free loopback port; stop it (and any hung handler) after.

    With ``tls`` (a directory), it speaks HTTPS with a self-signed certificate made there.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    feed = Feed(port=int(server.server_address[1]), body=body)
    if tls is not None:
        feed.cert, key = self_signed(tls)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(feed.cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.feed = feed  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield feed
    finally:
        feed.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
