"""The store against both backends: SQLite (a file) and a real PostgreSQL."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from agent.core.model import Address, Attendee, Located, MeetingMeta, MessageMeta
from agent.errors import UserError
from agent.store import schema as s
from agent.store.database import CHUNK, Store

ME = Address("me@example.org", "Me")
BOB = Address("bob@example.com", "Bob")
CARLA = Address("carla@example.com", "Carla")
T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/agent.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()


def meta(key: str = "m1@example.com", **kw: object) -> MessageMeta:
    fields: dict[str, object] = {
        "key": key,
        "date": T0,
        "date_source": "header",
        "sender": ME,
        "to": (BOB,),
    }
    fields.update(kw)
    return MessageMeta(**fields)  # type: ignore[arg-type]


def at(location: str, m: MessageMeta, folder: str = "INBOX") -> Located:
    return Located(folder=folder, location=location, meta=m)


def count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)  # type: ignore[arg-type]


# -- ingest: one message, many places ---------------------------------------------------------


def test_same_message_twice_is_one_row(store: Store) -> None:
    assert store.ingest("work", "INBOX", "7", [at("1", meta())]) == 1
    assert store.ingest("work", "INBOX", "7", [at("1", meta())]) == 0
    assert store.message_count() == 1
    assert count(store, s.locations) == 1


def test_same_message_in_two_folders_two_sources_and_after_uidvalidity_change(
    store: Store,
) -> None:
    m = meta()
    assert store.ingest("work", "INBOX", "7", [at("1", m)]) == 1
    assert store.ingest("work", "Archive", "9", [at("40", m, "Archive")]) == 0
    assert store.ingest("home", "INBOX", "", [at("1712.M1", m)]) == 0
    assert store.ingest("work", "INBOX", "8", [at("3", m)]) == 0  # UIDVALIDITY 7 -> 8
    assert store.message_count() == 1
    assert store.known_locations("work", "INBOX", "7") == {"1"}
    assert store.known_locations("work", "INBOX", "8") == {"3"}
    assert store.known_locations("work", "Archive", "9") == {"40"}
    assert store.known_locations("home", "INBOX") == {"1712.M1"}
    assert store.known_locations("home", "Sent") == set()


def test_duplicates_within_one_batch(store: Store) -> None:
    found = [at("1", meta()), at("2", meta()), at("1", meta())]
    assert store.ingest("work", "INBOX", "1", found) == 1
    assert store.known_locations("work", "INBOX", "1") == {"1", "2"}


def test_addresses_are_the_union_of_all_copies(store: Store) -> None:
    sent = meta(to=(BOB,), bcc=(CARLA,))
    inbox = meta(to=(BOB,), delivered_to=("me@example.org",))
    store.ingest("work", "INBOX", "1", [at("5", inbox)])
    store.ingest("work", "Sent", "1", [at("9", sent, "Sent")], sent=True)
    rows = {(r.key, r.role, r.email) for r in store.iter_addresses()}
    assert rows == {
        ("m1@example.com", "to", "bob@example.com"),
        ("m1@example.com", "bcc", "carla@example.com"),
        ("m1@example.com", "delivered", "me@example.org"),
    }
    [row] = store.iter_messages()
    assert row.recipient_count == 2  # the Sent copy's count, though INBOX came first


def test_a_header_date_replaces_a_fallback_date(store: Store) -> None:
    mtime = T0 + timedelta(days=3)
    store.ingest("home", "INBOX", "", [at("a", meta(date=mtime, date_source="fallback"))])
    store.ingest("work", "INBOX", "1", [at("1", meta())])
    store.ingest("old", "INBOX", "", [at("b", meta(date=mtime, date_source="fallback"))])
    [row] = store.iter_messages()
    assert row.date == T0


@pytest.mark.parametrize("list_copy_first", [True, False])
def test_a_copy_without_list_headers_decides_whatever_the_order(
    store: Store, list_copy_first: bool
) -> None:
    # Bob writes to a list and Cc's me: the list's copy carries List-Id, his direct one not.
    listed = at("1", meta(sender=BOB, to=(ME,), automated="mailing list"))
    direct = at("2", meta(sender=BOB, to=(ME,)))
    for copy in (listed, direct) if list_copy_first else (direct, listed):
        store.ingest("work", "INBOX", "7", [copy])
    assert [m.automated for m in store.iter_messages()] == [None]
    # Within one batch too.
    store.ingest("work", "Archive", "7", [at("3", meta("m2@x", automated="mailing list")),
                                          at("4", meta("m2@x"))])  # fmt: skip
    assert {m.key: m.automated for m in store.iter_messages()}["m2@x"] is None


def test_refs_and_in_reply_to(store: Store) -> None:
    reply = meta("r@x", in_reply_to="m1@example.com", references=("m0@x", "m1@example.com"))
    store.ingest("work", "INBOX", "1", [at("1", meta()), at("2", reply)])
    assert {(r.key, r.ref) for r in store.iter_refs()} == {
        ("r@x", "m0@x"),
        ("r@x", "m1@example.com"),
    }
    by_key = {r.key: r for r in store.iter_messages()}
    assert by_key["r@x"].in_reply_to == "m1@example.com"


def test_oversized_and_nul_values_fit_postgres_columns(store: Store) -> None:
    long_id = "x" * 600 + "@example.com"
    odd = meta(
        long_id,
        sender=Address("bob@example.com", "B\x00ob " + "n" * 600),
        to=(Address("a" * 400 + "@example.com"), CARLA),
        in_reply_to=long_id,
    )
    store.ingest("work", "INBOX", "1", [at("L" * 300, odd)])
    store.ingest("work", "INBOX", "1", [at("L" * 300, odd)])
    [row] = store.iter_messages()
    assert row.key == row.in_reply_to and len(row.key) <= 512
    assert row.sender_name is not None
    assert row.sender_name.startswith("Bob n") and len(row.sender_name) == 512
    assert [r.email for r in store.iter_addresses()] == ["carla@example.com"]
    assert len(store.known_locations("work", "INBOX", "1")) == 1


# -- cursors and transactions ------------------------------------------------------------------


def test_cursor_set_get_and_replace(store: Store) -> None:
    assert store.get_cursor("work", "INBOX") is None
    store.set_cursor("work", "INBOX", {"uidvalidity": 7, "uidnext": 10})
    store.set_cursor("work", "Sent", {"uidnext": 3})
    store.set_cursor("work", "INBOX", {"uidvalidity": 7, "uidnext": 12})
    assert store.get_cursor("work", "INBOX") == {"uidvalidity": 7, "uidnext": 12}
    assert store.get_cursor("work", "Sent") == {"uidnext": 3}
    assert store.get_cursor("home", "INBOX") is None


def test_ingest_writes_the_cursor_with_the_rows(store: Store) -> None:
    store.ingest("work", "INBOX", "7", [at("1", meta())], cursor={"uidnext": 2})
    assert store.get_cursor("work", "INBOX") == {"uidnext": 2}
    store.ingest("work", "INBOX", "7", [], cursor={"uidnext": 5})
    assert store.get_cursor("work", "INBOX") == {"uidnext": 5}


def test_a_bad_row_mid_ingest_stores_neither_rows_nor_cursor(store: Store) -> None:
    good = [at(str(i), meta(f"m{i}@x")) for i in range(CHUNK + 5)]
    bad = at("bad", meta("bad@x", date=None))  # violates messages.date NOT NULL
    with pytest.raises(SQLAlchemyError):
        store.ingest("work", "INBOX", "7", [*good, bad], cursor={"uidnext": 999})
    assert store.message_count() == 0
    assert store.known_locations("work", "INBOX", "7") == set()
    assert store.get_cursor("work", "INBOX") is None


def test_a_failing_cursor_write_rolls_back_the_rows(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_set_cursor", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        store.ingest("work", "INBOX", "7", [at("1", meta())], cursor={"uidnext": 2})
    monkeypatch.undo()
    assert store.message_count() == 0
    assert store.get_cursor("work", "INBOX") is None
    assert store.ingest("work", "INBOX", "7", [at("1", meta())], cursor={"uidnext": 2}) == 1


# -- dates ---------------------------------------------------------------------------------------


def test_dates_come_back_aware_utc(store: Store) -> None:
    berlin = timezone(timedelta(hours=1))
    store.ingest(
        "w", "INBOX", "", [at("1", meta(date=datetime(2024, 3, 1, 10, 30, tzinfo=berlin)))]
    )
    [row] = store.iter_messages()
    assert row.date == T0
    assert row.date.utcoffset() == timedelta(0)


def test_until_is_compared_as_an_instant_in_any_zone(store: Store) -> None:
    late = datetime(2024, 1, 1, 23, 30, tzinfo=UTC)
    store.ingest("w", "INBOX", "", [at("1", meta("a@x", date=late - timedelta(hours=2)))])
    store.ingest("w", "INBOX", "", [at("2", meta("b@x", date=late))])
    end_of_day_berlin = datetime(2024, 1, 2, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    assert [r.key for r in store.iter_messages(until=end_of_day_berlin)] == ["a@x"]
    assert [r.key for r in store.iter_messages(until=late)] == ["a@x", "b@x"]
    assert [r.key for r in store.iter_messages()] == ["a@x", "b@x"]


# -- meetings ------------------------------------------------------------------------------------


def meeting(key: str, *emails: str, start: datetime = T0) -> MeetingMeta:
    attendees = tuple(Attendee(e, partstat="ACCEPTED") for e in ("me@example.org", *emails))
    return MeetingMeta(key=key, start=start, organizer="me@example.org", attendees=attendees)


def test_replace_meetings_full(store: Store) -> None:
    a, b = meeting("a", "bob@example.com"), meeting("b", "carla@example.com")
    assert store.replace_meetings("cal", [a, b], cursor={"etag": "1"}) == 2
    assert store.replace_meetings("cal", [b, meeting("c", "bob@example.com")]) == 1
    assert sorted({r.key for r in store.iter_meetings()}) == ["b", "c"]
    assert store.get_cursor("cal", "") == {"etag": "1"}
    assert store.replace_meetings("other", [meeting("z", "dan@example.com")]) == 1
    assert store.replace_meetings("cal", []) == 0
    assert {r.key for r in store.iter_meetings()} == {"z"}


def test_replace_meetings_incremental(store: Store) -> None:
    store.replace_meetings("cal", [meeting("a", "bob@example.com"), meeting("b", "x@y.org")])
    moved = meeting("a", "bob@example.com", "carla@example.com", start=T0 + timedelta(hours=1))
    new = store.replace_meetings(
        "cal", [moved, meeting("c", "dan@x.org")], only_keys={"b"}, full=False
    )
    assert new == 1
    rows = list(store.iter_meetings())
    assert sorted({r.key for r in rows}) == ["a", "c"]
    a_rows = [r for r in rows if r.key == "a"]
    assert {r.email for r in a_rows} == {"me@example.org", "bob@example.com", "carla@example.com"}
    assert all(r.start == T0 + timedelta(hours=1) for r in a_rows)
    assert all(r.start.tzinfo is not None for r in rows)


def test_meetings_until_and_duplicate_attendees(store: Store) -> None:
    dup = MeetingMeta(
        key="d", start=T0, organizer=None,
        attendees=(Attendee("bob@example.com"), Attendee("bob@example.com", "Bob")),
    )  # fmt: skip
    later = meeting("later", "bob@example.com", start=T0 + timedelta(days=10))
    store.replace_meetings("cal", [dup, later, dup])
    assert [(r.key, r.email) for r in store.iter_meetings(until=T0)] == [("d", "bob@example.com")]


# -- people, runs, digests -----------------------------------------------------------------------


def test_person_ids_are_stable(store: Store) -> None:
    first = store.person_ids(["bob@example.com", "carla@example.com"])
    second = store.person_ids(["carla@example.com", "dan@example.com"])
    assert second["carla@example.com"] == first["carla@example.com"]
    assert len({*first.values(), *second.values()}) == 3
    assert store.person_ids([]) == {}
    assert store.person_ids(["bob@example.com"]) == {"bob@example.com": first["bob@example.com"]}


def test_sync_runs(store: Store) -> None:
    assert store.last_runs() == {}
    first = store.start_run("work")
    store.finish_run(first, 3)
    second = store.start_run("work")
    store.finish_run(second, 0, error="connection refused")
    home = store.start_run("home")
    runs = store.last_runs()
    assert runs["work"].ok is False and runs["work"].error == "connection refused"
    assert runs["home"].finished_at is None and runs["home"].ok is False
    assert runs["work"].started_at.tzinfo is not None
    assert runs["work"].finished_at is not None and runs["work"].finished_at.tzinfo is not None
    store.finish_run(home, 4)
    assert store.last_runs()["home"].ok and store.last_runs()["home"].new_count == 4
    assert [r.error for r in store.recent_errors()] == ["connection refused"]


def test_digest_is_recorded_once_per_period(store: Store) -> None:
    assert store.last_digest() is None
    assert not store.digest_sent("2026-W47")
    sent = datetime(2026, 11, 16, 8, 0, tzinfo=timezone(timedelta(hours=1)))
    assert store.record_digest("2026-W47", "<d1@x>", "me@example.org", 3, sent) is True
    assert store.record_digest("2026-W47", "<d2@x>", "me@example.org", 5, sent) is False
    assert store.digest_sent("2026-W47")
    store.record_digest("2026-W48", "<d3@x>", "me@example.org", 0, sent + timedelta(days=7))
    last = store.last_digest()
    assert last is not None
    assert last["period"] == "2026-W48" and last["message_id"] == "<d3@x>"
    assert last["sent_at"] == sent + timedelta(days=7)
    assert last["sent_at"].utcoffset() == timedelta(0)


# -- opening and migrating -----------------------------------------------------------------------


def test_schema_version_and_migrate_is_idempotent(store: Store, store_url: str) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(select(s.schema_version.c.version)).scalars().all() == [
            s.CURRENT_VERSION
        ]
    store.ingest("w", "INBOX", "", [at("1", meta())])
    with store.engine.begin() as conn:
        assert s.migrate(conn) == s.CURRENT_VERSION
    again = Store.open(store_url)
    try:
        assert again.message_count() == 1
        with again.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(s.schema_version)).scalar() == 1
    finally:
        again.close()


def test_a_newer_schema_is_a_clear_user_error(store: Store, store_url: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(s.schema_version.update().values(version=s.CURRENT_VERSION + 1))
    with pytest.raises(UserError, match="newer than this agent"):
        Store.open(store_url)


def test_sqlite_file_is_private_and_its_directory_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "agent.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        store.ingest("w", "INBOX", "", [at("1", meta())])
    finally:
        store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0


def test_bad_urls_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a database URL"):
        Store.open("not a url")
    with pytest.raises(UserError, match="not supported"):
        Store.open("mysql://x@localhost/db")


def test_the_sqlite_bulk_read_returns_what_sqlalchemy_returns(store: Store) -> None:
    from sqlalchemy import select

    from agent.store import schema as s
    from agent.store.reads import MessageRow, bulk

    store.ingest("work", "INBOX", "1", [at("1", meta()), at("2", meta("m2@x", reply=True))])
    store.ingest("work", "Sent", "1", [at("3", meta("m3@x"), "Sent")], sent=True)
    m = s.messages.c
    late = datetime(2100, 1, 1, tzinfo=UTC)
    query = select(*(m[c] for c in MessageRow._fields)).where(m.date <= late).order_by(m.key)
    with store.engine.connect() as conn:
        expected = [MessageRow(*row) for row in conn.execute(query)]
    got = list(bulk(store.engine, query, MessageRow))
    assert got == expected and len(got) == 3
    assert all(r.date.tzinfo is not None and isinstance(r.reply, bool) for r in got)


def test_a_migration_stopped_halfway_leaves_no_half_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's driver commits before each CREATE on its own: a process killed while creating
    # its database left tables that made every later start fail ("already exists").
    def stopped(conn: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(s, "MIGRATIONS", [s.MIGRATIONS[0], stopped])
    url = f"sqlite:///{tmp_path / 'agent.db'}"
    with pytest.raises(KeyboardInterrupt):
        Store.open(url)
    monkeypatch.undo()
    store = Store.open(url)
    with store.engine.connect() as conn:
        assert conn.execute(select(s.schema_version.c.version)).scalar() == s.CURRENT_VERSION
    store.close()
