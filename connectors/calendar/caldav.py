"""CalDAV connector (the caldav library): a calendar URL, or a principal URL for all its calendars.

Incremental via sync-collection (RFC 6578): the cursor keeps, per calendar, the sync token and
which meeting keys came from which resource href, so a changed or deleted resource replaces
exactly its own meetings. A token the server refuses (expired, bogus, REPORT unsupported)
means one full fetch of that calendar, never an error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit, urlunsplit

# This module is connectors.calendar.caldav; absolute imports name the library, never this module.
from caldav.collection import Calendar as DavCalendar
from caldav.davclient import DAVClient
from caldav.davobject import DAVObject
from caldav.elements import cdav, dav
from caldav.lib import error as dav_error

from agent.config.secrets import resolve
from agent.config.settings import CalendarConfig, MeConfig
from agent.core.model import Clock, MeetingMeta, utc_now
from agent.errors import OperationError, UserError
from agent.store.database import Store
from connectors import net
from connectors.base import Progress, counted, no_progress
from connectors.calendar import ical
from connectors.calendar.ics import safe_url

log = logging.getLogger(__name__)

MULTIGET = 200  # resources per calendar-multiget REPORT
TOKEN_REFUSED = (dav.ValidSyncToken.tag, dav.SupportedReport.tag)
MAX_RETRY_AFTER = timedelta(days=1)


@dataclass
class CalendarChange:
    """What one calendar contributes to a sync: meetings to store, old keys to drop, new state."""

    url: str
    full: bool
    state: dict[str, Any]
    meetings: list[MeetingMeta] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    events: int = 0


class CaldavConnector:
    NAME: ClassVar[str] = "caldav"

    def __init__(
        self,
        config: CalendarConfig,
        me: MeConfig,
        clock: Clock = utc_now,
        client_factory: Callable[..., Any] = DAVClient,
    ) -> None:
        self.config = config
        self.me = me
        self.clock = clock
        self.client_factory = client_factory
        self.where = safe_url(config.url)

    def check(self) -> str:
        with self._errors():
            calendars = self._calendars(self._client())
            changes = [self._calendar(cal, {}, self.clock()) for cal in calendars]
        names = ", ".join(_name(cal) for cal in calendars)
        events = sum(c.events for c in changes)
        meetings = sum(len(c.meetings) for c in changes)
        return (
            f"{counted(len(calendars), 'calendar')} ({names}), {counted(events, 'event')}, "
            f"{counted(meetings, 'occurrence')} with you"
        )

    def sync(self, store: Store, progress: Progress = no_progress) -> int:
        cursor = store.get_cursor(self.config.name, "") or {}
        now = self.clock()
        until = cursor.get("not_before")
        if until and now < datetime.fromisoformat(until):
            log.info("%s: server asked us to wait until %s; skipped", self.where, until)
            return 0
        known: dict[str, Any] = cursor.get("calendars", {})
        with self._errors(store, cursor):
            calendars = self._calendars(self._client())
            changes = []
            for cal in calendars:
                changes.append(self._calendar(cal, known.get(str(cal.url), {}), now))
                progress(self.config.name, _name(cal), len(changes), len(calendars))
        return self._store(store, known, changes)

    def _store(self, store: Store, known: dict[str, Any], changes: list[CalendarChange]) -> int:
        state = {"calendars": {c.url: c.state for c in changes}}
        found = [m for c in changes for m in c.meetings]
        if all(c.full for c in changes):
            # Everything was read: whatever else this source stored is gone upstream.
            return store.replace_meetings(self.config.name, found, state, full=True)
        gone = {k for c in changes for k in c.gone}
        current = {c.url for c in changes}
        for url, old in known.items():
            if url not in current:  # a calendar removed from the principal takes its meetings
                gone.update(k for keys in old.get("hrefs", {}).values() for k in keys)
        return store.replace_meetings(self.config.name, found, state, only_keys=gone, full=False)

    # -- one calendar -------------------------------------------------------------------

    def _calendar(self, cal: Any, state: dict[str, Any], now: datetime) -> CalendarChange:
        result, full = self._objects(cal, state.get("token"))
        old: dict[str, list[str]] = state.get("hrefs", {})
        hrefs = {} if full else dict(old)
        change = CalendarChange(str(cal.url), full, {})
        if full:
            change.gone = {k for keys in old.values() for k in keys}
        deleted = {_href(u) for u in getattr(result, "deleted_urls", None) or ()}
        for obj in result:
            change.gone.update(hrefs.pop(_href(obj.url), []))
        wanted = [obj for obj in result if _href(obj.url) not in deleted]
        for obj in self._load(cal, wanted):
            parsed = self._parse(obj, now)
            change.events += parsed.events
            change.meetings.extend(parsed.meetings)
            hrefs[_href(obj.url)] = sorted({m.key for m in parsed.meetings})
        change.state = {"token": result.sync_token, "hrefs": hrefs}
        return change

    def _objects(self, cal: Any, token: str | None) -> tuple[Any, bool]:
        """(changed resources, whether they are the whole calendar)."""
        if token and not token.startswith("fake-"):
            try:
                return cal.get_objects_by_sync_token(token, disable_fallback=True), False
            except dav_error.DAVError as exc:
                if not _token_refused(exc):
                    raise
                log.warning(
                    "%s: sync token refused (%s); fetching the whole calendar", _safe(cal), exc
                )
                token = None
        # No token, or the library's "fake-" one (an ETag hash for servers without RFC 6578):
        # it answers with nothing when nothing changed, and with everything otherwise.
        result = cal.get_objects_by_sync_token(token)
        if token and result.sync_token == token:
            return result, False
        return result, True

    def _load(self, cal: Any, objects: list[Any]) -> Iterable[Any]:
        ready = [o for o in objects if o.is_loaded()]
        todo = [o.url for o in objects if not o.is_loaded()]
        for start in range(0, len(todo), MULTIGET):
            ready.extend(cal.multiget(todo[start : start + MULTIGET]))
        return ready

    def _parse(self, obj: Any, now: datetime) -> ical.Parsed:
        origin = safe_url(str(obj.url))
        try:
            parsed = ical.parse_calendar(obj.data or "", self.me, now, origin)
        except ical.CalendarError as exc:
            log.warning("%s; skipped", exc)
            return ical.Parsed()
        for warning in parsed.warnings:
            log.warning("%s", warning)
        return parsed

    # -- connection and discovery -------------------------------------------------------

    def _client(self) -> Any:
        parts = urlsplit(self.config.url)
        if parts.scheme.lower() not in ("http", "https"):
            raise UserError(
                f"[calendars.{self.config.name}] url: a CalDAV URL starts with http(s)://"
            )
        username = self.config.username or unquote(parts.username or "")
        if self.config.secret is not None:
            password: str | None = resolve(self.config.secret)
        else:
            password = unquote(parts.password or "") or None
        ca_file = net.ca_bundle(f"calendars.{self.config.name}", self.config.ca_file)
        return self.client_factory(
            url=urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])),
            username=username or None,
            password=password,
            timeout=self.config.timeout,
            # The system's CAs, or the ca_file bundle; verification is never switched off.
            ssl_verify_cert=ca_file or True,
        )

    def _calendars(self, client: Any) -> list[Any]:
        """The calendar at the URL, or every calendar of the principal the URL names."""
        url = str(client.url)
        kinds: Any = DAVObject(client, url=url).get_property(dav.ResourceType()) or []
        if cdav.Calendar.tag in kinds:
            return [DavCalendar(client, url=url)]
        calendars = list(client.principal().calendars())
        if not calendars:
            raise UserError(f"[calendars.{self.config.name}] url: no calendars at {self.where}")
        return calendars

    @contextmanager
    def _errors(
        self, store: Store | None = None, cursor: dict[str, Any] | None = None
    ) -> Iterator[None]:
        """Turn library and network failures into OperationError naming the URL."""
        try:
            yield
        except dav_error.RateLimitError as exc:
            self._wait(exc, store, cursor or {})
            raise OperationError(f"{self.where}: server busy (HTTP {exc.status or 429})") from None
        except dav_error.AuthorizationError as exc:
            raise OperationError(
                f"{self.where}: access refused (HTTP {exc.status or '401/403'}); "
                "check username and password source"
            ) from None
        except dav_error.NotFoundError:
            raise OperationError(f"{self.where}: not found (HTTP 404)") from None
        except dav_error.DAVError as exc:
            raise OperationError(f"{self.where}: CalDAV request failed: {_reason(exc)}") from None
        except OSError as exc:  # niquests' errors, timeouts included, are OSErrors
            raise OperationError(f"{self.where}: cannot connect: {_short(exc)}") from None

    def _wait(
        self, exc: dav_error.RateLimitError, store: Store | None, cursor: dict[str, Any]
    ) -> None:
        """Record Retry-After as "not before" in the cursor; sync skips until then."""
        seconds = exc.retry_after_seconds
        if store is None or seconds is None:
            return
        until = self.clock() + min(timedelta(seconds=max(seconds, 0)), MAX_RETRY_AFTER)
        log.warning("%s: server asked us to wait until %s", self.where, until)
        store.set_cursor(self.config.name, "", {**cursor, "not_before": until.isoformat()})


def _token_refused(exc: dav_error.DAVError) -> bool:
    """An expired or unknown token, or no sync-collection support: fall back, don't fail."""
    if any(tag in exc.preconditions for tag in TOKEN_REFUSED):
        return True
    # Any other 401/403 is a real permission problem; other REPORT failures mean "can't sync".
    return not isinstance(exc, dav_error.AuthorizationError)


def _href(url: Any) -> str:
    return unquote(urlsplit(str(url)).path)


def _name(cal: Any) -> str:
    return _href(cal.url).rstrip("/").rsplit("/", 1)[-1] or "/"


def _safe(cal: Any) -> str:
    return safe_url(str(cal.url))


def _reason(exc: dav_error.DAVError) -> str:
    status = getattr(exc, "status", None)
    if status in (400, 405, 501):
        return f"HTTP {status}; is this a CalDAV calendar or principal URL?"
    reason = exc.reason if exc.reason and exc.reason != "no reason" else ""
    return " ".join(p for p in (f"HTTP {status}" if status else "", reason) if p) or str(exc)


def _short(exc: BaseException) -> str:
    text = str(exc)
    untrusted = re.search(r"certificate verify failed: ([^(')]+)", text)
    if untrusted:
        return f"TLS certificate not trusted: {untrusted[1].strip()} (set ca_file to trust it)"
    # niquests nests the cause in a long repr; its last clause is the readable part.
    if "Caused by" in text:
        text = text.rsplit(":", 1)[-1].strip(" )'\"")
    return text or type(exc).__name__
