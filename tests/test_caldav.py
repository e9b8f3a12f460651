"""connectors.calendar.caldav on a real Radicale server; one calendar via file, HTTP, CalDAV."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from icalendar import Calendar

from agent.config.secrets import SecretKind, SecretSpec
from agent.config.settings import CalendarConfig, MeConfig
from agent.errors import OperationError, UserError
from agent.store.database import Store
from connectors.calendar.caldav import CaldavConnector
from connectors.calendar.ics import IcsConnector
from tests.servers.http_feed import serve_feed
from tests.servers.radicale import OTHER_PASSWORD, OTHER_USER, Radicale

pytestmark = pytest.mark.radicale

DATA = Path(__file__).parent / "data" / "calendars"
ME = MeConfig("Ana Example", ("ana@example.org", "ana.private@example.net"), "Europe/Berlin")
TEAM = (DATA / "team.ics").read_bytes()
TEAM_MEETINGS = 16


def clock():
    from datetime import UTC, datetime

    return datetime(2025, 3, 1, 12, tzinfo=UTC)


def resources(ics: bytes) -> dict[str, bytes]:
    """Split a calendar into one resource per UID, each with the VTIMEZONEs, as CalDAV stores it."""
    cal = Calendar.from_ical(ics)
    zones = [c for c in cal.subcomponents if c.name == "VTIMEZONE"]
    groups: dict[str, list] = {}
    for c in cal.subcomponents:
        if c.name == "VEVENT":
            groups.setdefault(str(c["UID"]), []).append(c)
    out = {}
    for uid, events in groups.items():
        single = Calendar()
        single.add("VERSION", "2.0")
        single.add("PRODID", "-//test//split//EN")
        for c in (*zones, *events):
            single.add_component(c)
        out[uid.replace("@", "-at-") + ".ics"] = single.to_ical()
    return out


def upload(radicale: Radicale, url: str, ics: bytes = TEAM) -> dict[str, bytes]:
    parts = resources(ics)
    for name, body in parts.items():
        radicale.put(url + name, body)
    return parts


def connector(radicale: Radicale, url: str, password: str | None = None) -> CaldavConnector:
    config = CalendarConfig(
        name="dav", type="caldav", url=url, username=radicale.user,
        secret=SecretSpec(kind="plain", value=password or radicale.password), timeout=5,
    )  # fmt: skip
    return CaldavConnector(config, ME, clock=clock)


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(f"sqlite:///{tmp_path / 'agent.db'}")
    yield s
    s.close()


@pytest.fixture
def calendar(radicale: Radicale) -> str:
    url = radicale.calendar_url()
    upload(radicale, url)
    return url


def rows(store: Store) -> list[tuple]:
    return sorted(tuple(r) for r in store.iter_meetings())


def spy_full(store: Store, monkeypatch) -> list[bool]:
    """Record whether each replace_meetings call was a full replacement."""
    calls: list[bool] = []
    real = store.replace_meetings

    def replace(*args, **kwargs):
        calls.append(kwargs.get("full", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "replace_meetings", replace)
    return calls


def test_sync_from_calendar_url_then_resync_changes_nothing(radicale, calendar, store):
    dav = connector(radicale, calendar)
    assert dav.sync(store) == TEAM_MEETINGS
    before = rows(store)
    assert dav.sync(store) == 0
    assert rows(store) == before


def test_incremental_add_modify_delete(radicale, calendar, store, monkeypatch):
    dav = connector(radicale, calendar)
    dav.sync(store)
    token = store.get_cursor("dav", "")["calendars"][calendar]["token"]
    parts = resources(TEAM)
    # add: a new event with me and Judy
    new = parts["met-once-at-example.org.ics"].replace(b"met-once@", b"judy-lunch@")
    new = new.replace(b"heidi@example.com", b"judy@example.com")
    radicale.put(calendar + "judy.ics", new)
    # modify: the override of the 1:1 loses Carla and gains Kim
    weekly = parts["weekly-1on1-at-example.org.ics"].replace(b"carla@", b"kim@")
    radicale.put(calendar + "weekly-1on1-at-example.org.ics", weekly)
    # delete: the Outlook invite
    radicale.delete(calendar + "outlook-windows-at-example.org.ics")
    calls = spy_full(store, monkeypatch)
    assert dav.sync(store) == 1
    assert calls == [False]  # incremental, not a refetch
    assert store.get_cursor("dav", "")["calendars"][calendar]["token"] != token
    keys = {r[0] for r in rows(store)}
    assert "judy-lunch@example.org/20250210T090000Z" in keys
    assert not [k for k in keys if k.startswith("outlook-windows@")]
    moved = {r[4] for r in rows(store) if r[0] == "weekly-1on1@example.org/20250203T090000Z"}
    assert "kim@example.com" in moved and "carla@example.com" not in moved
    assert len(keys) == TEAM_MEETINGS
    assert dav.sync(store) == 0


def test_invalid_sync_token_falls_back_to_a_full_fetch(radicale, calendar, store, caplog):
    dav = connector(radicale, calendar)
    dav.sync(store)
    before = rows(store)
    cursor = store.get_cursor("dav", "")
    cursor["calendars"][calendar]["token"] = "http://radicale.org/ns/sync/bogus"
    store.set_cursor("dav", "", cursor)
    caplog.set_level(logging.WARNING)
    assert dav.sync(store) == 0
    assert rows(store) == before
    assert any("sync token refused" in r.getMessage() for r in caplog.records)
    assert store.get_cursor("dav", "")["calendars"][calendar]["token"].startswith("http://radicale")


def test_full_fetch_after_bad_token_drops_events_deleted_meanwhile(radicale, calendar, store):
    dav = connector(radicale, calendar)
    dav.sync(store)
    radicale.delete(calendar + "future-at-example.org.ics")
    cursor = store.get_cursor("dav", "")
    cursor["calendars"][calendar]["token"] = "http://radicale.org/ns/sync/expired"
    store.set_cursor("dav", "", cursor)
    dav.sync(store)
    assert not [r for r in rows(store) if r[0].startswith("future@")]


def test_principal_url_discovers_every_calendar(radicale, store):
    bert = dataclasses.replace(radicale, user=OTHER_USER, password=OTHER_PASSWORD)
    first, second = bert.calendar_url("work"), bert.calendar_url("private")
    upload(bert, first)
    private = TEAM.replace(b"UID:met-once@", b"UID:private-coffee@")
    bert.put(second + "coffee.ics", resources(private)["private-coffee-at-example.org.ics"])
    dav = connector(bert, bert.principal_url)
    assert dav.check().startswith("2 calendars (")
    assert dav.sync(store) == TEAM_MEETINGS + 1
    assert dav.sync(store) == 0


def test_check_describes_the_calendar(radicale, calendar):
    name = calendar.rstrip("/").rsplit("/", 1)[-1]
    expected = f"1 calendar ({name}), 9 events, 16 occurrences with you"
    assert connector(radicale, calendar).check() == expected


def test_same_calendar_as_file_http_and_caldav_gives_identical_meetings(
    radicale, calendar, tmp_path
):
    stores = [Store.open(f"sqlite:///{tmp_path / f'{n}.db'}") for n in ("file", "http", "dav")]
    try:
        with serve_feed(TEAM) as feed:
            sources: list[IcsConnector | CaldavConnector] = [
                IcsConnector(CalendarConfig("c", "ics", str(DATA / "team.ics")), ME, clock=clock),
                IcsConnector(CalendarConfig("c", "ics", feed.url()), ME, clock=clock),
                connector(radicale, calendar),
            ]
            counts = [src.sync(s) for src, s in zip(sources, stores, strict=True)]
            assert counts == [TEAM_MEETINGS] * 3
            results = [rows(s) for s in stores]
            assert results[0] == results[1] == results[2]
            assert [src.sync(s) for src, s in zip(sources, stores, strict=True)] == [0, 0, 0]
            assert [rows(s) for s in stores] == results
    finally:
        for s in stores:
            s.close()


def test_tls_is_verified_by_default_and_ca_file_is_used(store, tmp_path):
    with serve_feed(TEAM, tls=tmp_path) as feed:
        config = CalendarConfig("dav", "caldav", feed.url("/dav/"), timeout=5)
        with pytest.raises(OperationError, match="TLS certificate not trusted"):
            CaldavConnector(config, ME, clock=clock).sync(store)
        assert feed.requests == []
        # Trusted: the handshake succeeds and the feed, which is no CalDAV server, says so.
        trusted = dataclasses.replace(config, ca_file=str(feed.cert))
        with pytest.raises(OperationError, match="HTTP 501; is this a CalDAV"):
            CaldavConnector(trusted, ME, clock=clock).sync(store)


def test_ca_file_path_is_expanded_and_a_missing_one_is_a_config_error(
    tmp_path, monkeypatch, smtp_certificate
):
    seen: dict = {}

    def factory(**kwargs):
        seen.update(kwargs)
        raise OSError("stop here")

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "ca.pem").write_bytes(smtp_certificate[0].read_bytes())
    config = CalendarConfig("dav", "caldav", "https://dav.example.org/", ca_file="~/ca.pem")
    with pytest.raises(OperationError):
        CaldavConnector(config, ME, client_factory=factory).check()
    assert seen["ssl_verify_cert"] == str(tmp_path / "ca.pem")
    default = dataclasses.replace(config, ca_file="")
    with pytest.raises(OperationError):
        CaldavConnector(default, ME, client_factory=factory).check()
    assert seen["ssl_verify_cert"] is True
    missing = dataclasses.replace(config, ca_file="~/none.pem")
    with pytest.raises(UserError, match="ca_file"):
        CaldavConnector(missing, ME, client_factory=factory).check()
    (tmp_path / "empty.pem").write_text("")  # loaded up front, as for IMAP and SMTP
    empty = dataclasses.replace(config, ca_file="~/empty.pem")
    with pytest.raises(UserError, match=r"\[calendars.dav\] ca_file: cannot load"):
        CaldavConnector(empty, ME, client_factory=factory).check()


def test_credentials_come_from_the_same_secret_sources_as_mail(
    radicale, calendar, store, monkeypatch, tmp_path
):
    monkeypatch.setenv("DAV_PASSWORD", radicale.password)
    script = tmp_path / "pw.sh"
    script.write_text(f"#!/bin/sh\necho {radicale.password}\n")
    script.chmod(0o755)
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "dav").write_text(radicale.password + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    kinds: tuple[tuple[SecretKind, str], ...] = (
        ("env", "DAV_PASSWORD"),
        ("command", str(script)),
        ("credential", "dav"),
    )
    for kind, value in kinds:
        config = CalendarConfig(
            "dav", "caldav", calendar, username=radicale.user,
            secret=SecretSpec(kind=kind, value=value), timeout=5,
        )  # fmt: skip
        assert CaldavConnector(config, ME, clock=clock).check().startswith("1 calendar ("), kind


def test_server_root_url_discovers_the_users_calendars(radicale, calendar, store):
    # Other tests' calendars of the same user are found too; each meeting is stored once.
    assert connector(radicale, radicale.url).sync(store) >= TEAM_MEETINGS
    assert "met-once@example.org/20250210T090000Z" in {r[0] for r in rows(store)}
