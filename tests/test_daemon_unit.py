"""The daemon's decisions with an injected clock: digest due and catch-up, backoff, job guards,
signals, the lock, and the status report. The daemon as a real process: test_daemon_process.py."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.config.schedule import parse_schedule
from agent.config.settings import Config, parse_config
from agent.errors import OperationError
from agent.runtime import lock
from agent.runtime.daemon import (
    Attempts,
    Backoff,
    Daemon,
    Shutdown,
    SignalGuard,
    Timing,
    due_period,
    next_digest,
)
from agent.runtime.notify import Notifier
from agent.runtime.status import build_status, render_table
from agent.runtime.sync import SourceResult
from agent.store.database import Store

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_8 = parse_schedule("monday 08:00")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


# -- due and catch-up -----------------------------------------------------------------------


def test_nothing_is_due_before_the_slot_when_last_period_was_sent() -> None:
    sent = {"2026-W47"}
    assert due_period(MONDAY_8, at("2026-11-23 07:59"), sent.__contains__) is None


def test_the_period_is_due_from_its_slot_until_it_is_sent() -> None:
    sent = {"2026-W47"}
    assert due_period(MONDAY_8, at("2026-11-23 08:00"), sent.__contains__) == "2026-W48"
    assert due_period(MONDAY_8, at("2026-11-26 19:00"), sent.__contains__) == "2026-W48"
    sent.add("2026-W48")
    assert due_period(MONDAY_8, at("2026-11-26 19:00"), sent.__contains__) is None


def test_catch_up_after_weeks_off_sends_only_the_latest_period() -> None:
    sent = {"2026-W44"}
    # Stopped three slots ago: only the current period is owed, not a backlog.
    assert due_period(MONDAY_8, at("2026-11-25 10:00"), sent.__contains__) == "2026-W48"


def test_next_digest_is_now_when_due_else_the_next_slot() -> None:
    now = at("2026-11-24 10:00")
    assert next_digest(MONDAY_8, now, lambda p: False) == now
    assert next_digest(MONDAY_8, now, lambda p: True) == at("2026-11-30 08:00")


# -- backoff --------------------------------------------------------------------------------


def test_backoff_doubles_from_one_minute_with_jitter_and_caps_at_an_hour() -> None:
    b = Backoff()
    assert b.delay(1, rng=lambda: 0.999999) <= timedelta(minutes=1)
    assert b.delay(1, rng=lambda: 0.0) == timedelta(seconds=30)
    assert b.delay(3, rng=lambda: 0.999999) <= timedelta(minutes=4)
    assert b.delay(3, rng=lambda: 0.999999) > timedelta(minutes=3, seconds=59)
    assert b.delay(40, rng=lambda: 0.999999) <= timedelta(hours=1)
    assert b.delay(40, rng=lambda: 0.0) == timedelta(minutes=30)


def test_attempts_wait_after_failure_and_every_after_success() -> None:
    a = Attempts(rng=lambda: 0.999999)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert a.ready("imap", t0)
    wait = a.failed("imap", t0)
    assert not a.ready("imap", t0 + wait - timedelta(seconds=1))
    assert a.ready("imap", t0 + wait)
    a.succeeded("imap", t0, timedelta(minutes=15))
    assert a.failures == {}
    assert not a.ready("imap", t0 + timedelta(minutes=14))
    assert a.ready("imap", t0 + timedelta(minutes=15))


# -- the daemon with fakes ------------------------------------------------------------------


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class Recorder(Notifier):
    def __init__(self) -> None:
        super().__init__(None)
        self.sent: list[dict[str, str]] = []

    def send(self, **fields: str) -> bool:
        self.sent.append(fields)
        return True


def make_config(tmp_path: Path, digest: bool = True) -> Config:
    data: dict[str, Any] = {
        "me": {"name": "Ana", "emails": ["ana@example.org"], "timezone": "Europe/Berlin"},
        "database": {"url": f"sqlite:///{tmp_path / 'agent.db'}"},
        "accounts": [
            {"name": "good", "type": "maildir", "path": str(tmp_path)},
            {"name": "bad", "type": "maildir", "path": str(tmp_path)},
        ],
        "daemon": {"sync_every": "15m"},
    }
    if digest:
        data["digest"] = {"to": "ana@example.org", "every": "monday 08:00"}
        data["smtp"] = {"host": "127.0.0.1", "port": 2525, "security": "none"}
    return parse_config(data)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store.open(f"sqlite:///{tmp_path / 'agent.db'}")
    _synced_once(s)
    yield s
    s.close()


def _synced_once(s: Store) -> None:
    """A first sync has stored something: the daemon sends no digest of an empty archive."""
    from agent.core.model import Located
    from connectors.mail.headers import parse_headers

    raw = b"Message-ID: <m1@x>\nFrom: bob@example.com\nTo: ana@example.org\n\n"
    s.ingest("work", "INBOX", "1", [Located("INBOX", "1", parse_headers(raw, datetime.now(UTC)))])


class FakeSync:
    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.calls: list[str] = []

    def __call__(self, config: Config, store: Store, source: Any, progress: Any) -> SourceResult:
        self.calls.append(source.name)
        progress(source.name, "INBOX", 1, 2)
        error = "server down" if source.name in self.failing else None
        return SourceResult(source.name, source.type, 0, error)


class FakeDeliver:
    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.periods: list[str] = []

    def __call__(self, config: Config, store: Store, now: datetime, **kw: Any) -> Any:
        if self.fail:
            self.fail -= 1
            raise OperationError("cannot reach SMTP server 127.0.0.1:2525: Connection refused")
        self.periods.append(kw["period"])
        store.record_digest(kw["period"], "<id@x>", "ana@example.org", 0, now)
        return type(
            "R", (), {"recipient": "ana@example.org", "findings": 0, "message_id": "<id@x>"}
        )


def make_daemon(tmp_path: Path, store: Store, clock: Clock, **kw: Any) -> Daemon:
    timing = Timing(tick=0.01, backoff=Backoff())
    return Daemon(make_config(tmp_path), store, Recorder(), timing=timing, clock=clock, **kw)


def test_a_failing_source_backs_off_without_blocking_the_others(
    tmp_path: Path, store: Store
) -> None:
    clock = Clock(datetime(2026, 11, 24, 9, tzinfo=UTC))
    sync = FakeSync(failing={"bad"})
    d = make_daemon(tmp_path, store, clock, sync=sync, deliver=FakeDeliver())
    d.attempts.rng = lambda: 0.999999
    d.sync_job()
    assert sync.calls == ["good", "bad"]
    clock.now += timedelta(seconds=59)
    d.sync_job()
    assert sync.calls == ["good", "bad"]  # good waits 15m, bad its first backoff of ~1m
    clock.now += timedelta(seconds=1)
    d.sync_job()
    assert sync.calls == ["good", "bad", "bad"]
    clock.now += timedelta(minutes=15)
    d.sync_job()
    assert sync.calls == ["good", "bad", "bad", "good", "bad"]
    assert d.attempts.failures == {"bad": 3}


def test_a_crashing_connector_counts_as_a_failure(tmp_path: Path, store: Store) -> None:
    def crash(*args: Any) -> SourceResult:
        raise ValueError("bug")

    d = make_daemon(tmp_path, store, Clock(datetime(2026, 11, 24, tzinfo=UTC)), sync=crash)
    d.sync_job()
    assert d.attempts.failures == {"good": 1, "bad": 1}


def test_digest_is_caught_up_once_and_not_repeated(tmp_path: Path, store: Store) -> None:
    clock = Clock(at("2026-11-25 10:00"))  # Monday's slot passed while "stopped"
    deliver = FakeDeliver()
    d = make_daemon(tmp_path, store, clock, deliver=deliver)
    d.digest_job()
    d.digest_job()
    # A restart is a new Daemon on the same store: nothing is sent twice.
    make_daemon(tmp_path, store, clock, deliver=deliver).digest_job()
    assert deliver.periods == ["2026-W48"]
    clock.now = at("2026-11-30 08:00")
    d.digest_job()
    assert deliver.periods == ["2026-W48", "2026-W49"]


def test_a_failed_send_is_retried_after_its_backoff(tmp_path: Path, store: Store) -> None:
    clock = Clock(at("2026-11-23 08:00"))
    deliver = FakeDeliver(fail=2)
    d = make_daemon(tmp_path, store, clock, deliver=deliver)
    d.attempts.rng = lambda: 0.999999
    d.digest_job()
    d.digest_job()  # still inside the backoff: no second attempt
    assert deliver.fail == 1
    clock.now += timedelta(minutes=1)
    d.digest_job()
    clock.now += timedelta(minutes=2)
    d.digest_job()
    assert deliver.periods == ["2026-W48"]
    assert store.digest_sent("2026-W48")


def test_no_digest_job_without_smtp(tmp_path: Path, store: Store) -> None:
    deliver = FakeDeliver()
    d = Daemon(make_config(tmp_path, digest=False), store, Recorder(), deliver=deliver)
    d.digest_job()
    assert deliver.periods == []


def test_the_loop_survives_a_raising_job_and_stops_cleanly_on_sigterm(
    tmp_path: Path, store: Store
) -> None:
    calls: list[str] = []

    def sync(config: Config, store: Store, source: Any, progress: Any) -> SourceResult:
        calls.append(source.name)
        if len(calls) == 6:
            os.kill(os.getpid(), signal.SIGTERM)
        return SourceResult(source.name, source.type, 0, "down")

    def deliver(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("a bug in the digest")

    timing = Timing(tick=0.01, backoff=Backoff(timedelta(0), timedelta(0)))
    notifier = Recorder()
    d = Daemon(make_config(tmp_path), store, notifier, timing=timing, sync=sync, deliver=deliver)
    d.run()  # returns: SIGTERM is a clean stop, and the digest bug did not end the loop
    assert len(calls) == 6
    assert notifier.sent[0]["READY"] == "1"
    assert notifier.sent[-1]["STOPPING"] == "1"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_signals_inside_a_critical_section_only_set_the_flag() -> None:
    guard = SignalGuard()
    guard.install()
    try:
        with guard.critical():
            os.kill(os.getpid(), signal.SIGTERM)
        assert guard.stop_requested
        with pytest.raises(Shutdown):
            guard.check()
        with pytest.raises(Shutdown):
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        guard.restore()


# -- lock -----------------------------------------------------------------------------------


def test_a_second_lock_on_one_sqlite_database_names_the_holder(store: Store) -> None:
    held = lock.acquire(store.engine)
    try:
        with pytest.raises(
            OperationError, match=rf"already running on this database \(pid {os.getpid()}\)"
        ):
            lock.acquire(store.engine)
        assert lock.holder(store.engine) == os.getpid()
    finally:
        held.release()
    assert lock.holder(store.engine) is None
    lock.acquire(store.engine).release()


def test_an_in_memory_database_needs_no_lock() -> None:
    s = Store.open("sqlite:///:memory:")
    lock.acquire(s.engine).release()
    assert lock.holder(s.engine) is None


# -- status ---------------------------------------------------------------------------------


def test_status_reports_sources_errors_and_digests(tmp_path: Path, store: Store) -> None:
    config = make_config(tmp_path)
    store.finish_run(store.start_run("good"), 3)
    store.finish_run(store.start_run("bad"), 0, "cannot reach imap.example.org:993")
    store.record_digest("2026-W47", "<d@x>", "ana@example.org", 4, at("2026-11-16 08:00"))
    report = build_status(config, store, at("2026-11-24 10:00"))
    data = json.loads(json.dumps(report.to_json()))
    assert data["daemon"] == {"running": False, "pid": None}
    good, bad = data["sources"]
    assert (good["name"], good["new"], good["state"], good["last_error"]) == ("good", 3, "ok", None)
    assert bad["state"] == "failed"
    assert bad["last_error"]["error"] == "cannot reach imap.example.org:993"
    assert data["digest"]["last"]["period"] == "2026-W47"
    assert data["digest"]["due"] is True  # W48's slot passed and nothing was sent
    table = render_table(report)
    assert "cannot reach imap.example.org:993" in table
    assert "last digest: 2026-W47 sent 2026-11-16 08:00 to ana@example.org (4 findings)" in table
    assert "next digest: due now" in table


def test_a_run_that_never_finished_shows_as_interrupted(tmp_path: Path, store: Store) -> None:
    store.start_run("good")
    report = build_status(make_config(tmp_path), store, at("2026-11-24 10:00"))
    assert report.sources[0]["state"] == "interrupted"
    assert report.sources[1]["state"] == "never"


def test_no_digest_is_sent_before_anything_was_synced(tmp_path: Path) -> None:
    empty = Store.open(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        deliver = FakeDeliver()
        make_daemon(tmp_path, empty, Clock(at("2026-11-25 10:00")), deliver=deliver).digest_job()
        assert deliver.periods == []
    finally:
        empty.close()
