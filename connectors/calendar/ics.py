"""iCalendar file or feed: a local path, file:// or http(s):// URL, read whole on each change.

``webcal://`` (what "subscribe" links of Google, iCloud and Outlook use) is fetched as https://.

HTTP is polled politely: If-None-Match / If-Modified-Since from the cursor (an unchanged feed
answers 304 and costs nothing), Retry-After recorded as "not before" and honoured, TLS always
verified (``ca_file`` adds a CA, never disables checks). Every fetch replaces this source's
meetings, so an event deleted upstream disappears and a re-sync changes nothing.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import ipaddress
import logging
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from agent.config.secrets import resolve
from agent.config.settings import (
    FILE_SCHEMES,
    WEB_SCHEMES,
    WEBCAL_SCHEMES,
    CalendarConfig,
    MeConfig,
)
from agent.core.model import Clock, utc_now
from agent.errors import OperationError, UserError
from agent.store.database import Store
from connectors import net
from connectors.base import Progress, counted, no_progress
from connectors.calendar import ical

log = logging.getLogger(__name__)

MAX_BYTES = 64 * 1024 * 1024  # a calendar larger than this is a misconfigured URL
# Re-read an unchanged calendar this often anyway, so stored occurrences keep reaching
# ical.HORIZON ahead (a 304 feed would otherwise never add next year's meetings).
REFRESH = timedelta(days=30)
MAX_RETRY_AFTER = timedelta(days=1)  # a server may not silence us for longer than this
RETRY_STATUSES = (429, 503)


@dataclass
class Fetched:
    """A fetch's outcome: the body (None when unchanged) and validators for the next one."""

    body: bytes | None
    validators: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    content_type: str = ""


class IcsConnector:
    NAME: ClassVar[str] = "ics"

    def __init__(
        self,
        config: CalendarConfig,
        me: MeConfig,
        clock: Clock = utc_now,
    ) -> None:
        self.config = config
        self.me = me
        self.clock = clock
        self.where = safe_url(http_url(config.url))

    def check(self) -> str:
        parsed = self._parse(self._fetch({}), self.clock())
        n = len(parsed.meetings)
        return f"{counted(parsed.events, 'event')}, {counted(n, 'occurrence')} with you"

    def sync(self, store: Store, progress: Progress = no_progress) -> int:
        cursor = store.get_cursor(self.config.name, "") or {}
        now = self.clock()
        if _waiting(cursor, now):
            log.info(
                "%s: server asked us to wait until %s; skipped", self.where, cursor["not_before"]
            )
            return 0
        fetched = self._fetch_or_record(store, cursor, now)
        if fetched.body is None:
            log.debug("%s: unchanged", self.where)
            return 0
        parsed = self._parse(fetched, now)
        state = {**fetched.validators, "fetched_at": now.isoformat()}
        new = store.replace_meetings(self.config.name, parsed.meetings, state, full=True)
        progress(self.config.name, "", len(parsed.meetings), len(parsed.meetings))
        return new

    def _fetch_or_record(self, store: Store, cursor: dict[str, Any], now: datetime) -> Fetched:
        """Fetch; a Retry-After is stored in the cursor before the failure is raised."""
        fresh = _fresh(cursor, now)
        try:
            return self._fetch(cursor if fresh else {})
        except RetryLater as exc:
            store.set_cursor(self.config.name, "", {**cursor, "not_before": exc.until.isoformat()})
            until = f"{exc.until:%Y-%m-%d %H:%M:%S} UTC"
            raise OperationError(f"{exc.message}; not retrying before {until}") from None

    def _fetch(self, cursor: dict[str, Any]) -> Fetched:
        scheme = urllib.parse.urlsplit(self.config.url).scheme.lower()
        if scheme in (*WEB_SCHEMES, *WEBCAL_SCHEMES):
            return self._fetch_http(cursor)
        if scheme in FILE_SCHEMES:
            return self._fetch_file(cursor)
        raise UserError(
            f"[calendars.{self.config.name}] url: {scheme}:// is not supported "
            "(use a path, file://, http://, https:// or webcal://)"
        )

    def _parse(self, fetched: Fetched, now: datetime) -> ical.Parsed:
        try:
            parsed = ical.parse_calendar(fetched.body or b"", self.me, now, self.where)
        except ical.CalendarError as exc:
            if fetched.content_type == "file":
                raise UserError(f"[calendars.{self.config.name}] url: {exc}") from None
            kind = fetched.content_type or "no content type"
            raise OperationError(
                f"{self.where}: HTTP {fetched.status} returned {kind}, not iCalendar"
            ) from None
        for warning in parsed.warnings:
            log.warning("%s", warning)
        return parsed

    # -- files --------------------------------------------------------------------------

    def _fetch_file(self, cursor: dict[str, Any]) -> Fetched:
        path = self._path()
        try:
            stat = path.stat()
            validators = {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size}
            if all(cursor.get(k) == v for k, v in validators.items()):
                return Fetched(None, validators, content_type="file")
            with path.open("rb") as fh:
                return Fetched(fh.read(MAX_BYTES + 1)[:MAX_BYTES], validators, content_type="file")
        except FileNotFoundError:
            raise UserError(f"[calendars.{self.config.name}] url: no file {path}") from None
        except OSError as exc:
            raise UserError(
                f"[calendars.{self.config.name}] url: cannot read {path}: {exc}"
            ) from None

    def _path(self) -> Path:
        url = self.config.url
        if url.lower().startswith("file:"):
            url = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
        return Path(os.path.expandvars(url)).expanduser()

    # -- HTTP ---------------------------------------------------------------------------

    def _fetch_http(self, cursor: dict[str, Any]) -> Fetched:
        request = self._request(cursor)
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self._tls()), _SafeRedirects(request.full_url)
        )
        deadline = time.monotonic() + self.config.timeout * DOWNLOAD_TIMEOUTS
        try:
            with opener.open(request, timeout=self.config.timeout) as resp:
                body = _read_until(resp, MAX_BYTES + 1, deadline)
                return Fetched(
                    body[:MAX_BYTES], _validators(resp.headers), resp.status,
                    resp.headers.get_content_type(),
                )  # fmt: skip
        except urllib.error.HTTPError as exc:
            return self._http_error(exc)
        except _Refused as exc:
            raise OperationError(f"{self.where}: {exc}") from None
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
            raise OperationError(f"{self.where}: {_reason(exc, self.config.timeout)}") from None

    def _request(self, cursor: dict[str, Any]) -> urllib.request.Request:
        parts = urllib.parse.urlsplit(http_url(self.config.url))
        netloc = parts.netloc.rpartition("@")[2]
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        request = urllib.request.Request(url, headers={"Accept": "text/calendar, */*;q=0.5"})
        if cursor.get("etag"):
            request.add_header("If-None-Match", cursor["etag"])
        if cursor.get("last_modified"):
            request.add_header("If-Modified-Since", cursor["last_modified"])
        credentials = self._credentials(parts)
        if credentials:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            # Unredirected: a redirect to another host must not carry the password along.
            request.add_unredirected_header("Authorization", f"Basic {token}")
        return request

    def _credentials(self, parts: urllib.parse.SplitResult) -> tuple[str, str] | None:
        if self.config.secret is not None:
            return (self.config.username or urllib.parse.unquote(parts.username or ""),
                    resolve(self.config.secret))  # fmt: skip
        if parts.username:
            return urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
        return None

    def _tls(self) -> ssl.SSLContext:
        return net.tls_context(f"calendars.{self.config.name}", self.config.ca_file)

    def _http_error(self, exc: urllib.error.HTTPError) -> Fetched:
        with exc:
            if exc.code == 304:
                return Fetched(None, status=304)
            message = f"{self.where}: HTTP {exc.code} {exc.reason}"
            delay = _retry_after(exc.headers.get("Retry-After"), self.clock())
            if exc.code in RETRY_STATUSES and delay is not None:
                raise RetryLater(message, delay)
            if exc.code in (401, 403):
                message += " (check username and password source)"
            raise OperationError(message)


# A whole download may take this many read timeouts: a feed trickling a byte every few
# seconds never trips a per-read timeout, and would hold the daemon forever.
DOWNLOAD_TIMEOUTS = 4


class _Refused(Exception):
    """A redirect or a download the network policy does not allow."""


def _read_until(resp: Any, limit: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        if time.monotonic() > deadline:
            raise _Refused("the download took too long (the server sends too slowly); gave up")
        chunk = resp.read1(min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects only to http(s), never from HTTPS down to HTTP, and to a loopback, link-local
    or private address only on the configured URL's own host and port: a feed must not send
    the agent to another service on this machine or network (a metadata endpoint, a router)."""

    def __init__(self, origin: str) -> None:
        self.origin = urllib.parse.urlsplit(origin)

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        target = urllib.parse.urlsplit(newurl)
        scheme = target.scheme.lower()
        if scheme not in ("http", "https"):
            raise _Refused(f"refused a redirect to a {scheme or 'relative'}: URL")
        if urllib.parse.urlsplit(req.full_url).scheme == "https" and scheme == "http":
            raise _Refused("refused a redirect from HTTPS to plain HTTP")
        if _internal(target.hostname or "") and not self._same_origin(target):
            raise _Refused(f"refused a redirect to the internal address {target.hostname}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)

    def _same_origin(self, target: urllib.parse.SplitResult) -> bool:
        def where(u: urllib.parse.SplitResult) -> tuple[str, int | None]:
            return (u.hostname or "").lower(), u.port or (443 if u.scheme == "https" else 80)

        return where(target) == where(self.origin)


def _internal(host: str) -> bool:
    """A loopback, link-local, private or unspecified address, or a name resolving to one."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False  # unresolvable: the request itself fails with a clear message
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if (
            address.is_loopback
            or address.is_link_local
            or address.is_private
            or (address.is_unspecified or address.is_reserved)
        ):
            return True
    return False


class RetryLater(Exception):
    """The server answered 429/503 with Retry-After: come back at ``until``."""

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.message = message
        self.until = until


def http_url(url: str) -> str:
    """``webcal://host/x.ics`` -> ``https://host/x.ics``; any other URL unchanged.

    webcal is a "subscribe" label, not a protocol: providers serve it over HTTPS, and plain
    HTTP would send a password in the clear.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() in WEBCAL_SCHEMES:
        return urllib.parse.urlunsplit(parts._replace(scheme="https"))
    return url


# Query parameters and path segments that carry a feed's secret (Google's private-…,
# Outlook's and Nextcloud's tokens): shown as *** in every message, log and status.
_SECRET_PARAM = re.compile(
    r"(?i)^(?:.*token.*|.*auth.*|key|apikey|api_key|secret|pass(?:word)?|sig|signature|code)$"
)
_SECRET_SEGMENT = re.compile(r"^(private-)[^/]+$")


def safe_url(url: str) -> str:
    """The URL without user:password@ and without the secrets it carries, for messages and
    logs: ``?authtoken=s3cr3t`` becomes ``?authtoken=***``, ``/private-abc/`` ``/private-***/``."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    path = "/".join(_SECRET_SEGMENT.sub(r"\1***", seg) for seg in parts.path.split("/"))
    query = "&".join(_redact_param(p) for p in parts.query.split("&")) if parts.query else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, path=path, query=query))


def _redact_param(param: str) -> str:
    name, sep, _value = param.partition("=")
    return f"{name}=***" if sep and _SECRET_PARAM.match(urllib.parse.unquote(name)) else param


def _validators(headers: Any) -> dict[str, str]:
    found = {"etag": headers.get("ETag"), "last_modified": headers.get("Last-Modified")}
    return {k: v for k, v in found.items() if v}


def _retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as seconds or an HTTP date -> when to come back (capped); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            delay = email.utils.parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return now + min(max(delay, timedelta(0)), MAX_RETRY_AFTER)


def _waiting(cursor: dict[str, Any], now: datetime) -> bool:
    until = cursor.get("not_before")
    return isinstance(until, str) and now < datetime.fromisoformat(until)


def _fresh(cursor: dict[str, Any], now: datetime) -> bool:
    """True when the cursor's validators may be used: the last full read is recent enough."""
    fetched = cursor.get("fetched_at")
    return isinstance(fetched, str) and now - datetime.fromisoformat(fetched) < REFRESH


def _reason(exc: BaseException, timeout: float) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g}s (timed out)"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {reason.verify_message} (set ca_file to trust it)"
    return f"cannot connect: {reason}"
