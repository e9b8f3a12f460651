"""connectors.calendar.ics against files and a real HTTP server on loopback."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.config.secrets import SecretSpec
from agent.config.settings import CalendarConfig, MeConfig
from agent.errors import OperationError, UserError
from agent.store.database import Store
from connectors.calendar.ics import IcsConnector
from tests.servers.http_feed import serve_feed

DATA = Path(__file__).parent / "data" / "calendars"
ME = MeConfig("Ana Example", ("ana@example.org", "ana.private@example.net"), "Europe/Berlin")
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
TEAM = (DATA / "team.ics").read_bytes()
TEAM_MEETINGS = 16


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(f"sqlite:///{tmp_path / 'agent.db'}")
    yield s
    s.close()


@pytest.fixture
def feed():
    with serve_feed(TEAM) as f:
        yield f


def connector(url: str, clock: Clock | None = None, **kw) -> IcsConnector:
    config = CalendarConfig(name="cal", type="ics", url=url, **kw)
    return IcsConnector(config, ME, clock=clock or Clock())


def rows(store: Store) -> list[tuple]:
    return sorted(tuple(r) for r in store.iter_meetings())


# -- files ------------------------------------------------------------------------------


def test_file_sync_stores_meetings_and_resync_changes_nothing(store, tmp_path):
    path = tmp_path / "team.ics"
    shutil.copy(DATA / "team.ics", path)
    ics = connector(str(path))
    assert ics.sync(store) == TEAM_MEETINGS
    before = rows(store)
    assert ics.sync(store) == 0
    assert rows(store) == before


def test_file_url_and_plain_path_give_the_same_meetings(store, tmp_path):
    assert connector((DATA / "team.ics").as_uri()).sync(store) == TEAM_MEETINGS
    first = rows(store)
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        connector(str(DATA / "team.ics")).sync(other)
        assert rows(other) == first
    finally:
        other.close()


def test_event_deleted_from_file_disappears(store, tmp_path):
    path = tmp_path / "team.ics"
    path.write_bytes(TEAM)
    ics = connector(str(path))
    ics.sync(store)
    text = TEAM.decode()
    start = text.index("BEGIN:VEVENT\nUID:met-once")
    end = text.index("END:VEVENT\n", start) + len("END:VEVENT\n")
    path.write_text(text[:start] + text[end:])
    assert ics.sync(store) == 0
    assert not [r for r in rows(store) if r[0].startswith("met-once@")]
    assert len({r[0] for r in rows(store)}) == TEAM_MEETINGS - 1


def test_file_that_is_not_icalendar_is_a_user_error_and_keeps_stored_meetings(store, tmp_path):
    path = tmp_path / "team.ics"
    path.write_bytes(TEAM)
    ics = connector(str(path))
    ics.sync(store)
    path.write_text("this is not a calendar\n")
    with pytest.raises(UserError, match="not iCalendar"):
        ics.sync(store)
    assert len({r[0] for r in rows(store)}) == TEAM_MEETINGS


def test_broken_events_warn_with_file_and_uid(store, caplog):
    caplog.set_level(logging.WARNING)
    assert connector(str(DATA / "broken.ics")).sync(store) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("broken.ics" in m and "bad-dtstart@example.org" in m for m in messages)


def test_check_describes_the_calendar():
    assert connector(str(DATA / "team.ics")).check() == "9 events, 16 occurrences with you"


def test_unsupported_scheme_is_a_user_error():
    with pytest.raises(UserError, match="ftp"):
        connector("ftp://example.org/cal.ics").check()


# -- HTTP -------------------------------------------------------------------------------


def test_http_sync_then_304_costs_nothing(store, feed):
    ics = connector(feed.url())
    assert ics.sync(store) == TEAM_MEETINGS
    before = rows(store)
    assert ics.sync(store) == 0
    assert rows(store) == before
    second = feed.requests[-1][1]
    assert second["If-None-Match"] == feed.etag
    assert "If-Modified-Since" in second
    assert store.get_cursor("cal", "")["etag"] == feed.etag


def test_http_change_is_picked_up(store, feed):
    ics = connector(feed.url())
    ics.sync(store)
    feed.body = TEAM.replace(b"UID:met-once@example.org", b"UID:met-twice@example.org")
    assert ics.sync(store) == 1
    keys = {r[0] for r in rows(store)}
    assert "met-twice@example.org/20250210T090000Z" in keys
    assert "met-once@example.org/20250210T090000Z" not in keys


def test_unchanged_feed_is_refetched_after_a_month_to_extend_the_horizon(store, feed):
    clock = Clock()
    ics = connector(feed.url(), clock)
    ics.sync(store)
    clock.now += timedelta(days=31)
    ics.sync(store)
    assert "If-None-Match" not in feed.requests[-1][1]


def test_basic_auth_from_a_secret_source(store, feed, monkeypatch):
    monkeypatch.setenv("FEED_PASSWORD", feed.password)
    secret = SecretSpec(kind="env", value="FEED_PASSWORD")
    ics = connector(feed.url("/private.ics"), username=feed.user, secret=secret)
    assert ics.sync(store) == TEAM_MEETINGS


def test_wrong_password_is_an_operation_error_without_credentials(store, feed):
    url = feed.url("/private.ics").replace("http://", "http://ana:wrong@")
    with pytest.raises(OperationError) as caught:
        connector(url).sync(store)
    assert "401" in str(caught.value)
    assert "wrong" not in str(caught.value)
    assert feed.url("/private.ics") in str(caught.value)


def test_credentials_in_the_url_are_used(store, feed):
    url = feed.url("/private.ics").replace("http://", f"http://ana:{feed.password}@")
    assert connector(url).sync(store) == TEAM_MEETINGS


@pytest.mark.parametrize(("path", "status"), [("/missing.ics", "404"), ("/error.ics", "500")])
def test_http_errors_are_operation_errors_with_url_and_status(store, feed, path, status):
    with pytest.raises(OperationError) as caught:
        connector(feed.url(path)).sync(store)
    assert feed.url(path) in str(caught.value)
    assert f"HTTP {status}" in str(caught.value)


def test_html_instead_of_icalendar_is_an_operation_error_and_keeps_meetings(store, feed):
    connector(feed.url()).sync(store)
    config_url = feed.url("/page.ics")
    other = IcsConnector(CalendarConfig("cal", "ics", config_url), ME, clock=Clock())
    with pytest.raises(OperationError, match="text/html, not iCalendar"):
        other.sync(store)
    assert len({r[0] for r in rows(store)}) == TEAM_MEETINGS


def test_hanging_server_times_out(store, feed):
    started = time.monotonic()
    with pytest.raises(OperationError, match="timed out"):
        connector(feed.url("/hang.ics"), timeout=0.5).sync(store)
    assert time.monotonic() - started < 5


def test_retry_after_is_honoured(store, feed, caplog):
    clock = Clock()
    busy = connector(feed.url("/busy.ics"), clock)
    with pytest.raises(OperationError, match="503"):
        busy.sync(store)
    assert store.get_cursor("cal", "")["not_before"] == (NOW + timedelta(seconds=120)).isoformat()
    count = len(feed.requests)
    caplog.set_level(logging.INFO)
    clock.now += timedelta(seconds=60)
    assert busy.sync(store) == 0
    assert len(feed.requests) == count  # skipped, not asked
    assert any("wait until" in r.getMessage() for r in caplog.records)
    clock.now += timedelta(seconds=61)
    with pytest.raises(OperationError):
        busy.sync(store)
    assert len(feed.requests) == count + 1


def test_retry_after_as_http_date(store, feed):
    feed.retry_after = "Sat, 01 Mar 2025 12:10:00 GMT"
    with pytest.raises(OperationError):
        connector(feed.url("/busy.ics")).sync(store)
    assert store.get_cursor("cal", "")["not_before"] == "2025-03-01T12:10:00+00:00"


def test_https_certificate_is_verified(store, tmp_path):
    # An unreadable ca_file is a config error, never "verification off" (real TLS: below).
    ics = connector("https://127.0.0.1:1/cal.ics", ca_file=str(tmp_path / "none.pem"))
    with pytest.raises(UserError, match="ca_file"):
        ics.sync(store)


def test_http_check(feed):
    assert connector(feed.url()).check() == "9 events, 16 occurrences with you"


@pytest.fixture
def tls_feed(tmp_path):
    with serve_feed(TEAM, tls=tmp_path) as f:
        yield f


def test_self_signed_https_feed_is_refused_by_default(store, tls_feed):
    with pytest.raises(OperationError, match="TLS certificate not trusted"):
        connector(tls_feed.url(), timeout=5).sync(store)
    assert tls_feed.requests == []  # nothing was sent over the untrusted connection


def test_ca_file_trusts_a_self_signed_https_feed(store, tls_feed):
    assert connector(tls_feed.url(), ca_file=str(tls_feed.cert)).sync(store) == TEAM_MEETINGS


def test_webcal_url_is_fetched_over_https(store, tls_feed):
    url = tls_feed.url().replace("https://", "webcal://")
    ics = connector(url, ca_file=str(tls_feed.cert))
    assert ics.sync(store) == TEAM_MEETINGS
    assert ics.sync(store) == 0
    assert tls_feed.requests[-1][1]["If-None-Match"] == tls_feed.etag


def test_series_moved_to_another_hour_is_not_counted_twice(store, tmp_path):
    path = tmp_path / "team.ics"
    path.write_bytes(TEAM)
    ics = connector(str(path))
    ics.sync(store)
    weekly = {r[0] for r in rows(store) if r[0].startswith("weekly-1on1@")}
    # What a client writes when the whole series moves an hour: the override moves along.
    text = TEAM.decode()
    head, rest = text.split("UID:weekly-1on1@example.org", 1)
    series, tail = rest.split("UID:offsite@", 1)
    series = series.replace("T100000", "T110000").replace("T103000", "T113000")
    path.write_text(head + "UID:weekly-1on1@example.org" + series + "UID:offsite@" + tail)
    ics.sync(store)
    now = {r[0] for r in rows(store) if r[0].startswith("weekly-1on1@")}
    assert len(now) == len(weekly) == 11 and now.isdisjoint(weekly)
    assert len({r[0] for r in rows(store)}) == TEAM_MEETINGS


def test_a_trickling_feed_ends_at_the_download_deadline(store, feed):
    # One byte every 0.2 s never trips a 1 s read timeout; the whole download may take 4 s.
    started = time.monotonic()
    with pytest.raises(OperationError, match="took too long"):
        connector(feed.url("/trickle.ics"), timeout=1).sync(store)
    assert time.monotonic() - started < 8


@pytest.mark.parametrize(
    ("path", "refused"),
    [("/to-ftp.ics", "ftp: URL"), ("/to-local.ics", "internal address 127.0.0.1")],
)
def test_redirects_stay_on_http_and_off_other_local_services(store, feed, path, refused):
    feed.other = feed.port + 1 if feed.port < 65535 else feed.port - 1
    with pytest.raises(OperationError, match=refused):
        connector(feed.url(path)).sync(store)


def test_a_redirect_on_the_feeds_own_host_and_port_is_followed(store, feed):
    assert connector(feed.url("/to-self.ics")).sync(store) == TEAM_MEETINGS


def test_https_never_redirects_down_to_http():
    from connectors.calendar.ics import _SafeRedirects

    handler = _SafeRedirects("https://calendar.example.org/cal.ics")

    class Request:
        full_url = "https://calendar.example.org/cal.ics"

    with pytest.raises(Exception, match="HTTPS to plain HTTP"):
        handler.redirect_request(Request(), None, 302, "Found", {}, "http://calendar.example.org/x")


@pytest.mark.parametrize(
    ("url", "shown"),
    [("https://ana:pw@cal.example/x.ics", "https://cal.example/x.ics"),
     ("https://cal.example/x.ics?authtoken=s3cr3t&view=week",
      "https://cal.example/x.ics?authtoken=***&view=week"),
     ("https://calendar.google.com/calendar/ical/ana%40example.org/private-0a1b2c3d/basic.ics",
      "https://calendar.google.com/calendar/ical/ana%40example.org/private-***/basic.ics")],
)  # fmt: skip
def test_secrets_in_feed_urls_are_never_shown(url, shown):
    from connectors.calendar.ics import safe_url

    assert safe_url(url) == shown
