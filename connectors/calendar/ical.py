"""iCalendar text -> one MeetingMeta per occurrence I take part in. Pure: no I/O, clock passed in.

Every connector that reads calendars (a file, an HTTP feed, CalDAV resources) goes through
``parse_calendar``, so the same calendar gives the same meetings however it was fetched.

Each series (the events sharing a UID: the master and its RECURRENCE-ID overrides) is expanded
on its own, so one broken event costs a warning naming the origin and the UID, never the file.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from time import monotonic
from typing import Any

import recurring_ical_events
import x_wr_timezone
from icalendar import Calendar, Component

from agent.config.settings import MeConfig
from agent.core.model import Attendee, MeetingMeta

# Occurrences are stored this far ahead: an unchanged feed answers 304 and is not re-expanded,
# so meetings stored now must still cover the months until the next real fetch.
HORIZON = timedelta(days=400)
# Relationships are not measured before this; a fixed floor (rather than each file's earliest
# event) keeps the window identical whether a calendar arrives whole or split into resources.
FLOOR = datetime(1970, 1, 1, tzinfo=UTC)
# A series yielding more is a mistake (FREQ=MINUTELY since 1990) that would stall every sync;
# ten years of a daily meeting is about 3,700.
MAX_OCCURRENCES = 20_000
# Budgets for one calendar text, whatever its series do: an attacker's feed or invitation
# must not stall a sync or fill the database (40 FREQ=SECONDLY series in 8 KB were 800,000
# meetings and a minute and a half).
MAX_TEXT_OCCURRENCES = 50_000
EVENT_SECONDS = 2.0
TEXT_SECONDS = 10.0
# No meeting between people repeats every second, minute or hour; expanding such a rule
# costs seconds per event (SECONDLY before it yields anything) for nothing real.
REFUSED_FREQS = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})
_MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30,
               12: 31}  # fmt: skip
PARTSTATS = ("NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED")
# Invitees that are not people: meeting rooms, equipment, mailing lists (RFC 5545 CUTYPE), and
# those copied "for information purposes only" (ROLE=NON-PARTICIPANT; Exchange marks rooms so).
NOT_PEOPLE_CUTYPES = ("ROOM", "RESOURCE", "GROUP")
# Google lists shared, imported and resource calendars as attendees or organizer with
# CUTYPE=INDIVIDUAL; their addresses end in these.
CALENDAR_DOMAINS = (".calendar.google.com",)


class CalendarError(ValueError):
    """The text as a whole is not iCalendar: nothing in it can be trusted."""


@dataclass
class Parsed:
    """What one calendar text yields: meetings with me, how many series it had, and warnings."""

    meetings: list[MeetingMeta] = field(default_factory=list)
    events: int = 0
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.meetings.extend(other.meetings)
        self.events += other.events
        self.warnings.extend(other.warnings)


def parse_calendar(
    data: bytes | str, me: MeConfig, now: datetime, origin: str = "<calendar>"
) -> Parsed:
    """Meetings with me in ``data``, from FLOOR to ``now`` + HORIZON.

    ``origin`` (a path, URL or href) prefixes every warning. Raises CalendarError when the
    text is not iCalendar at all; a bad event is skipped with a warning instead.
    Example: ``parse_calendar(ics, me, now, "work.ics").meetings[0].key``
    -> ``"a1b2@example.org/20240506T080000Z"``.
    """
    reader = _Reader(me, origin)
    # The libraries warn through `warnings` (a guessed TZID, say): as our warnings they name
    # the calendar and reach the log once, instead of a raw multi-line message on stderr.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for calendar in _load(data, origin):
            reader.read(calendar, FLOOR, now.astimezone(UTC) + HORIZON)
    for warning in caught:
        reader.warn(str(warning.message).split("\n", 1)[0])
    return reader.result


def _load(data: bytes | str, origin: str) -> list[Calendar]:
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    data = data.lstrip("\ufeff")  # Windows exporters start with a byte order mark
    head = data.lstrip()[:4096].upper()
    if head.startswith("BEGIN:V") and "BEGIN:VCALENDAR" not in head:
        # A lone VEVENT (some "save event as" exports): read it as a one-event calendar.
        data = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{data.strip()}\r\nEND:VCALENDAR\r\n"
    elif "BEGIN:VCALENDAR" not in head:
        raise CalendarError(f"{origin}: not iCalendar (no BEGIN:VCALENDAR)")
    try:
        calendars = Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # noqa: BLE001  the parser raises many types on malformed input
        raise CalendarError(f"{origin}: not valid iCalendar: {exc}") from None
    return [c for c in calendars if isinstance(c, Calendar)]


class _Reader:
    """Collects meetings and warnings over the calendars of one text."""

    def __init__(self, me: MeConfig, origin: str) -> None:
        self.me = frozenset(e.lower() for e in me.emails)
        self.tz: tzinfo = me.tz
        self.origin = origin
        self.result = Parsed()
        self._warned: set[str] = set()
        self._shifts: dict[Any, timedelta] = {}
        self._budget = MAX_TEXT_OCCURRENCES  # read at run time: tests lower it
        self._deadline = monotonic() + TEXT_SECONDS

    def warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.result.warnings.append(f"{self.origin}: {message}")

    def read(self, calendar: Calendar, start: datetime, end: datetime) -> None:
        calendar = self._standard(calendar)
        cancelled = str(calendar.get("METHOD", "")).upper() == "CANCEL"
        timezones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
        for uid, events in _series(calendar).items():
            self.result.events += 1
            try:
                if not self._involves_me(events):
                    continue  # expanding a series I am not in would only cost time
                refused = _refused_rule(events)
                if refused:
                    self.warn(f"event {uid!r} skipped: {refused}")
                    continue
                if self._budget <= 0 or monotonic() > self._deadline:
                    self.warn(
                        f"event {uid!r} and later ones skipped: the calendar's budget "
                        f"({MAX_TEXT_OCCURRENCES} occurrences, {TEXT_SECONDS:g} s) is spent"
                    )
                    continue
                self._check_zones(uid, events)
                occurrences = _expand(calendar, timezones, events, start)
                self._shifts = _range_shifts(events)
                found = list(self._meetings(uid, occurrences, end, cancelled))
            except Exception as exc:  # noqa: BLE001  malformed events fail in arbitrary ways
                self.warn(f"event {uid!r} skipped: {type(exc).__name__}: {exc}")
                continue
            self.result.meetings.extend(m for m in found if m is not None)

    def _standard(self, calendar: Calendar) -> Calendar:
        # Google's X-WR-TIMEZONE silently re-zones floating and UTC times; make it explicit.
        try:
            standard: Calendar = x_wr_timezone.to_standard(calendar)
            return standard
        except Exception as exc:  # noqa: BLE001  a bad X-WR-TIMEZONE must not lose the file
            self.warn(f"X-WR-TIMEZONE ignored: {exc}")
            return calendar

    def _meetings(
        self, uid: str, occurrences: Iterable[Component], end: datetime, cancelled: bool
    ) -> Iterator[MeetingMeta | None]:
        deadline = monotonic() + EVENT_SECONDS
        for count, occurrence in enumerate(occurrences):
            if self._utc(occurrence, "DTSTART") > end:
                return
            if count == MAX_OCCURRENCES or self._budget <= 0:
                self.warn(f"event {uid!r}: over {count} occurrences; later ones ignored")
                return
            if monotonic() > deadline:
                self.warn(f"event {uid!r}: expanding took over {EVENT_SECONDS:g} s; "
                          "later occurrences ignored")  # fmt: skip
                return
            self._budget -= 1
            yield self._meeting(uid, occurrence, cancelled)

    def _meeting(self, uid: str, event: Component, cancelled: bool) -> MeetingMeta | None:
        status = str(event.get("STATUS", "CONFIRMED")).upper()
        if cancelled or status == "CANCELLED":
            return None
        organizer = _person(event.get("ORGANIZER"))
        people = _participants(event, organizer)
        if not any(a.email in self.me for a in people):
            return None
        return MeetingMeta(
            key=f"{uid}/{self._stamp(event, 'RECURRENCE-ID')}",
            start=self._utc(event, "DTSTART"),
            organizer=organizer or None,
            attendees=tuple(people),
            status="TENTATIVE" if status == "TENTATIVE" else "CONFIRMED",
        )

    def _involves_me(self, events: list[Component]) -> bool:
        """Whether I am organizer or attendee of the master or of any override."""
        for event in events:
            people = (event.get("ORGANIZER"), *_as_list(event.get("ATTENDEE")))
            if any(_email(p) in self.me for p in people):
                return True
        return False

    def _check_zones(self, uid: str, events: list[Component]) -> None:
        """Warn about a TZID neither defined in the file nor known by name (IANA, Windows)."""
        for event in events:
            for name in ("DTSTART", "RECURRENCE-ID"):
                prop = event.get(name)
                value = getattr(prop, "dt", None)
                tzid = prop.params.get("TZID") if prop is not None else None
                if tzid and isinstance(value, datetime) and value.tzinfo is None:
                    self.warn(f"event {uid!r}: time zone {tzid!r} is not defined; using {self.tz}")

    def _utc(self, event: Component, name: str) -> datetime:
        value = _prop(event, name).dt
        if isinstance(value, datetime):
            if value.tzinfo is None:
                # Floating time, or a TZID nobody defines (warned above): my wall clock.
                value = value.replace(tzinfo=self.tz)
            return value.astimezone(UTC)
        if isinstance(value, date):
            # An all-day event starts when my day starts.
            return datetime.combine(value, time(), self.tz).astimezone(UTC)
        raise ValueError(f"{name} is not a date or time: {value!r}")

    def _stamp(self, event: Component, name: str) -> str:
        prop = _prop(event, name)
        value = prop.dt
        shift = self._shifts.get(value) if _this_and_future(prop) else None
        if shift is not None:
            # recurring_ical_events copies a RANGE=THISANDFUTURE override's RECURRENCE-ID onto
            # every later occurrence; each one's own original start is its start minus the shift.
            value = _prop(event, "DTSTART").dt - shift
        if not isinstance(value, datetime):
            # A date is the same day wherever I am: keep the key independent of [me] timezone.
            return str(value.isoformat())
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.tz)
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _refused_rule(events: list[Component]) -> str | None:
    """Why a series' recurrence rule is not expanded at all, or None: a frequency no meeting
    has, or BYMONTH/BYMONTHDAY that never meet (30 February), which the expander would
    search for until the year 9999."""
    for event in events:
        for rule in _as_list(event.get("RRULE")):
            freq = str(_first_of(rule.get("FREQ")) or "").upper()
            if freq in REFUSED_FREQS:
                return f"RRULE FREQ={freq}: no meeting repeats that often"
            if _never_occurs(rule):
                return "RRULE names a day that does not exist (BYMONTH with BYMONTHDAY)"
    return None


def _first_of(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _never_occurs(rule: Any) -> bool:
    months = [int(m) for m in _as_list(rule.get("BYMONTH")) if str(m).lstrip("-").isdigit()]
    days = [int(d) for d in _as_list(rule.get("BYMONTHDAY")) if str(d).lstrip("-").isdigit()]
    if not months or not days:
        return False
    return not any(abs(d) <= _MONTH_DAYS.get(m, 31) for m in months for d in days)


def _prop(event: Component, name: str) -> Any:
    """A date-time property; RECURRENCE-ID falls back to DTSTART (an event with no series)."""
    return event.get(name) or event["DTSTART"]


def _this_and_future(prop: Any) -> bool:
    params = getattr(prop, "params", None) or {}
    return str(params.get("RANGE", "")).upper() == "THISANDFUTURE"


def _range_shifts(events: list[Component]) -> dict[Any, timedelta]:
    """RECURRENCE-ID of each RANGE=THISANDFUTURE override -> how far it moved its occurrences."""
    shifts: dict[Any, timedelta] = {}
    for event in events:
        rid, start = event.get("RECURRENCE-ID"), event.get("DTSTART")
        if rid is None or start is None or not _this_and_future(rid):
            continue
        if isinstance(rid.dt, datetime) == isinstance(start.dt, datetime):
            shifts[rid.dt] = start.dt - rid.dt
    return shifts


def _series(calendar: Calendar) -> dict[str, list[Component]]:
    """VEVENTs grouped by UID (master and overrides together), in file order."""
    groups: dict[str, list[Component]] = {}
    for event in calendar.subcomponents:
        if event.name == "VEVENT":
            groups.setdefault(_uid(event), []).append(event)
    return groups


def _uid(event: Component) -> str:
    uid = str(event.get("UID", "")).strip()
    if uid:
        return uid
    # RFC 5545 requires a UID; for the exports that lack one, start and summary are the identity.
    seed = "|".join(repr(event.get(name)) for name in ("DTSTART", "SUMMARY", "ORGANIZER"))
    return "nouid-" + hashlib.sha256(seed.encode()).hexdigest()[:16]


def _expand(
    calendar: Calendar,
    timezones: list[Component],
    events: list[Component],
    start: datetime,
) -> Iterator[Component]:
    """Occurrences of one series from ``start`` on, in order, generated lazily."""
    single = Calendar()
    for key in ("CALSCALE", "X-WR-TIMEZONE"):
        if key in calendar:
            single[key] = calendar[key]
    for component in (*timezones, *events):
        single.add_component(component)
    yield from recurring_ical_events.of(single).after(start)


def _participants(event: Component, organizer: str) -> list[Attendee]:
    """Every attendee with an address, plus the organizer (ACCEPTED unless listed)."""
    people: dict[str, Attendee] = {}
    for value in _as_list(event.get("ATTENDEE")):
        email = _person(value)
        if email and email not in people:
            people[email] = Attendee(email, _cn(value), _partstat(value))
    if organizer and organizer not in people:
        people[organizer] = Attendee(organizer, _cn(event.get("ORGANIZER")), "ACCEPTED")
    return list(people.values())


def _as_list(value: Any) -> Iterable[Any]:
    if value is None:
        return ()
    return value if isinstance(value, list) else (value,)


def _person(value: Any) -> str:
    """The address of an ATTENDEE or ORGANIZER who is a person; "" for rooms, lists, calendars."""
    params = getattr(value, "params", None) or {}
    if str(params.get("CUTYPE", "")).upper() in NOT_PEOPLE_CUTYPES:
        return ""
    if str(params.get("ROLE", "")).upper() == "NON-PARTICIPANT":
        return ""
    email = _email(value)
    return "" if email.endswith(CALENDAR_DOMAINS) else email


def _email(value: Any) -> str:
    """``MAILTO:Bob@Example.com`` -> ``bob@example.com``; "" for anything without an address.

    A value that is not an address (``urn:uuid:...``, a principal URL: SabreDAV, Nextcloud)
    falls back to the EMAIL parameter (RFC 7986).
    """
    if value is None or isinstance(value, list):
        return ""
    address = _address(str(value))
    if not address:
        params = getattr(value, "params", None) or {}
        address = _address(str(params.get("EMAIL", "")))
    return address


def _address(text: str) -> str:
    text = text.strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    text = text.strip().strip('"').lower()
    return text if "@" in text and " " not in text and ":" not in text else ""


def _cn(value: Any) -> str:
    params = getattr(value, "params", None) or {}
    return str(params.get("CN", "")).strip().strip('"')


def _partstat(value: Any) -> str:
    params = getattr(value, "params", None) or {}
    partstat = str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    return partstat if partstat in PARTSTATS else "NEEDS-ACTION"
