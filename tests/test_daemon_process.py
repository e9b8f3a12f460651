"""`agent run` as a real subprocess: a real notify socket, real signals, real SMTP and IMAP.

Each test starts the daemon with ``python -m agent run`` and a bound AF_UNIX datagram socket in
$NOTIFY_SOCKET, as systemd would. AGENT_TICK_SECONDS / AGENT_BACKOFF_SECONDS (testing knobs)
make it tick in fractions of a second instead of minutes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.imap_helpers import SlowProxy
from tests.servers.common import free_port

ROOT = Path(__file__).resolve().parents[1]
TICK = "0.2"
BACKOFF = "0.5"


# -- helpers --------------------------------------------------------------------------------


class NotifySocket:
    """What systemd is to the daemon: a datagram socket collecting KEY=VALUE messages."""

    def __init__(self, tmp_path: Path, abstract: bool) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"agent-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.address = str(tmp_path / f"notify-{uuid.uuid4().hex[:8]}.sock")
            self.sock.bind(self.address)
        self.sock.settimeout(0.1)
        self.messages: list[dict[str, str]] = []

    def poll(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536).decode()
            except TimeoutError:
                return
            self.messages.append(dict(line.split("=", 1) for line in data.split("\n") if line))

    def wait_for(
        self, pred: Callable[[dict[str, str]], bool], timeout: float = 20.0
    ) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            self.poll()
            for msg in self.messages[seen:]:
                if pred(msg):
                    return msg
            seen = len(self.messages)
        raise AssertionError(f"no such notify message in {timeout}s; got {self.messages[-10:]}")

    def close(self) -> None:
        self.sock.close()


@dataclass
class Agent:
    """One `agent run` process."""

    proc: subprocess.Popen[bytes]
    notify: NotifySocket
    stderr_path: Path

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 20.0, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stderr.count(text) >= count:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} x{count} not logged in {timeout}s:\n{self.stderr}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> tuple[int, float]:
        """Send ``sig``; return (exit code, seconds it took to exit)."""
        start = time.monotonic()
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        return rc, time.monotonic() - start


@dataclass
class Workspace:
    tmp: Path
    db: Path
    maildir: Path
    extra: str = ""
    url: str = ""  # the database; default: SQLite at ``db``
    agents: list[Agent] = field(default_factory=list)

    def config(self) -> Path:
        path = self.tmp / "config.toml"
        path.write_text(
            f"""
[me]
name = "Ana Example"
emails = ["ana@example.org"]
timezone = "UTC"

[database]
url = "{self.url or f"sqlite:///{self.db}"}"

[[accounts]]
name = "archive"
type = "maildir"
path = "{self.maildir}"

[daemon]
sync_every = "15m"
{self.extra}
"""
        )
        return path

    def start(
        self, abstract: bool = False, env: dict[str, str] | None = None, **more: str
    ) -> Agent:
        notify = NotifySocket(self.tmp, abstract)
        stderr = self.tmp / f"agent-{len(self.agents)}.log"
        full_env = {
            **os.environ,
            "NOTIFY_SOCKET": notify.address,
            "AGENT_TICK_SECONDS": TICK,
            "AGENT_BACKOFF_SECONDS": BACKOFF,
            "PYTHONPATH": str(ROOT),
            **(env or {}),
            **more,
        }
        with stderr.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "agent", "--config", str(self.config()), "run"],
                cwd=self.tmp, env=full_env, stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        agent = Agent(proc, notify, stderr)
        self.agents.append(agent)
        return agent

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agent", "--config", str(self.config()), *args],
            cwd=self.tmp, env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql).fetchall()


def add_mail(maildir: Path, count: int, start: int = 0) -> None:
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        (maildir / "cur" / f"{i}.test:2,S").write_bytes(
            b"From: Bob <bob%d@example.com>\r\nTo: ana@example.org\r\nSubject: hello %d\r\n"
            b"Message-ID: <m%d@example.com>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\nhi\r\n"
            % (i % 40, i, i)
        )


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    maildir = tmp_path / "Mail"
    add_mail(maildir, 5)
    workspace = Workspace(tmp_path, tmp_path / "agent.db", maildir)
    yield workspace
    for agent in workspace.agents:
        if agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait()
        agent.notify.close()


def is_ready(m: dict[str, str]) -> bool:
    return m.get("READY") == "1"


def is_idle(m: dict[str, str]) -> bool:
    return m.get("STATUS", "").startswith("idle")


def run_until_idle(ws: Workspace, env: dict[str, str] | None = None) -> Agent:
    agent = ws.start(env=env)
    agent.notify.wait_for(is_idle, timeout=60)
    rc, _ = agent.stop()
    assert rc == 0, agent.stderr
    return agent


# -- systemd citizenship --------------------------------------------------------------------


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_notify_protocol_from_ready_to_stopping(ws: Workspace, abstract: bool) -> None:
    agent = ws.start(abstract=abstract, WATCHDOG_USEC="600000")
    ready = agent.notify.wait_for(is_ready)
    assert ready["MAINPID"] == str(agent.proc.pid)
    agent.notify.wait_for(lambda m: m.get("STATUS", "").startswith("syncing archive"))
    agent.notify.wait_for(is_idle)
    start = len(agent.notify.messages)
    time.sleep(1.5)
    agent.notify.poll()
    pings = [m for m in agent.notify.messages[start:] if m.get("WATCHDOG") == "1"]
    assert len(pings) >= 5  # every <= 0.3s: half of WATCHDOG_USEC, with room to spare
    rc, took = agent.stop(signal.SIGTERM)
    assert (rc, took < 5) == (0, True)
    agent.notify.poll()
    assert agent.notify.messages[-1].get("STOPPING") == "1"
    log = agent.stderr
    assert "sync archive: 5 new" in log
    assert "Traceback" not in log


def test_sigint_is_a_clean_stop_too(ws: Workspace) -> None:
    agent = ws.start()
    agent.notify.wait_for(is_idle)
    assert agent.stop(signal.SIGINT)[0] == 0


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_second_daemon_on_the_same_database_is_refused(
    ws: Workspace, database: str, request: pytest.FixtureRequest
) -> None:
    if database == "postgresql":
        ws.url = str(request.getfixturevalue("postgres_url"))
    first = ws.start()
    first.notify.wait_for(is_ready)
    second = ws.start()
    assert second.proc.wait(timeout=20) == 1
    assert (
        f"error: another agent is already running on this database (pid {first.proc.pid})"
        in second.stderr
    )
    second.notify.poll()
    assert not any(is_ready(m) for m in second.notify.messages)
    assert first.proc.poll() is None
    assert first.stop()[0] == 0
    # The lock dies with its holder, even by kill -9: the next daemon starts.
    third = ws.start()
    third.notify.wait_for(is_ready)
    third.proc.kill()
    third.proc.wait(timeout=5)
    fourth = ws.start()
    fourth.notify.wait_for(is_ready)
    assert fourth.stop()[0] == 0


def test_status_sees_the_running_daemon(ws: Workspace) -> None:
    agent = ws.start()
    agent.notify.wait_for(is_idle)
    done = ws.cli("status", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["daemon"] == {"running": True, "pid": agent.proc.pid}
    assert data["sources"][0]["new"] == 5
    assert agent.stop()[0] == 0
    table = ws.cli("status").stdout
    assert "daemon: not running" in table and "archive  maildir" in table


# -- signals and crashes during a sync ------------------------------------------------------
#
# The source is a real Dovecot behind a SlowProxy: replies trickle in like over a poor link, so
# the daemon is reliably in the middle of a UID FETCH when the signal lands, with earlier
# batches committed. The run after it goes straight to Dovecot.

MAIL = 400
BATCH = 50
RATE = 8000  # bytes a second: one batch of 50 headers takes about 3 s to arrive


def imap_account(port: int, user: str, batch: int = 500) -> str:
    return f"""
[[accounts]]
name = "work"
type = "imap"
host = "127.0.0.1"
port = {port}
security = "none"
username = "{user}"
password_env = "AGENT_TEST_IMAP_PASSWORD"
batch_size = {batch}
"""


@dataclass
class SlowImap:
    server: Any  # tests.servers.dovecot.DovecotServer
    proxy: SlowProxy

    @property
    def env(self) -> dict[str, str]:
        return {"AGENT_TEST_IMAP_PASSWORD": self.server.password}

    def through_proxy(self, ws: Workspace) -> None:
        ws.extra = imap_account(self.proxy.port, self.server.user, BATCH)

    def direct(self, ws: Workspace) -> None:
        ws.extra = imap_account(self.server.port, self.server.user, BATCH)


@pytest.fixture
def slow_imap(ws: Workspace, dovecot: Any) -> Iterator[SlowImap]:
    for i in range(MAIL):
        dovecot.add_message(
            b"From: Carla <carla%d@example.com>\r\nTo: ana@example.org\r\nSubject: s%d\r\n"
            b"Message-ID: <imap%d@example.com>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
            b"\r\nx\r\n" % (i % 40, i, i)
        )
    slow = SlowImap(dovecot, SlowProxy(dovecot.port, RATE))
    slow.through_proxy(ws)
    yield slow
    slow.proxy.close()


def imap_stored(ws: Workspace) -> int:
    return int(ws.query("SELECT count(*) FROM locations WHERE source = 'work'")[0][0])


def assert_whole_batches(stored: int, at_least: int) -> None:
    # A batch's rows and cursor commit together: never a part of a batch.
    assert stored % BATCH == 0 and at_least * BATCH <= stored < MAIL, stored


def resume_and_check(ws: Workspace, slow: SlowImap, stored: int) -> None:
    """The next run fetches exactly what is missing; the store ends with every message once."""
    slow.direct(ws)
    again = run_until_idle(ws, slow.env)
    assert f"sync work: {MAIL - stored} new" in again.stderr
    assert_nothing_lost_or_duplicated(ws, MAIL + 5)  # + the 5 of the maildir source


def assert_nothing_lost_or_duplicated(ws: Workspace, total: int) -> None:
    assert ws.query("SELECT count(*) FROM messages") == [(total,)]
    assert ws.query("SELECT count(*) FROM locations") == [(total,)]


@pytest.mark.dovecot
@pytest.mark.parametrize("stalled", [False, True], ids=["slow", "stalled"])
def test_sigterm_during_an_imap_fetch_exits_0_within_seconds(
    ws: Workspace, slow_imap: SlowImap, stalled: bool
) -> None:
    agent = ws.start(env=slow_imap.env)
    slow_imap.proxy.wait_in_fetch(2)  # batch 1 committed, batch 2 arriving
    if stalled:
        slow_imap.proxy.pause()  # not one more byte: the daemon blocks in a socket read
    rc, took = agent.stop(signal.SIGTERM)
    assert rc == 0, agent.stderr
    assert took < 3, agent.stderr  # the account's read timeout is 30 s: not waited out
    assert ws.query("SELECT source, error FROM sync_runs ORDER BY id") == [
        ("archive", None),
        ("work", "interrupted"),
    ]
    stored = imap_stored(ws)
    assert_whole_batches(stored, at_least=1)
    if stalled:
        assert stored == BATCH  # frozen mid-batch 2: exactly batch 1 is kept
    assert "sync work interrupted" in agent.stderr
    assert "Traceback" not in agent.stderr
    slow_imap.proxy.resume()
    resume_and_check(ws, slow_imap, stored)


@pytest.mark.dovecot
def test_kill_9_during_an_imap_fetch_loses_and_duplicates_nothing(
    ws: Workspace, slow_imap: SlowImap
) -> None:
    agent = ws.start(env=slow_imap.env)
    slow_imap.proxy.wait_in_fetch(2)
    agent.proc.kill()
    agent.proc.wait(timeout=5)
    status = json.loads(ws.cli("status", "--format", "json").stdout)
    work = next(s for s in status["sources"] if s["name"] == "work")
    assert work["state"] == "interrupted"
    stored = imap_stored(ws)
    assert_whole_batches(stored, at_least=1)
    resume_and_check(ws, slow_imap, stored)


# -- digest: exactly once -------------------------------------------------------------------


class Inbox:
    """An aiosmtpd server on loopback that can go down and come back on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[bytes] = []
        self.controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        inbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                inbox.messages.append(envelope.content)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    pytest.importorskip("aiosmtpd")
    box = Inbox(free_port())
    yield box
    box.stop()


def digest_config(port: int) -> str:
    return f"""
[digest]
to = "ana@example.org"
every = "daily 00:00"
format = "text"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from = "agent@example.org"
"""


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def record_sent(ws: Workspace, period: str) -> None:
    """A digest that went out in an earlier run, as that run recorded it."""
    from agent.store.database import Store

    store = Store.open(f"sqlite:///{ws.db}")
    store.record_digest(period, "<old@example.org>", "ana@example.org", 0, datetime.now(UTC))
    store.close()


@pytest.mark.parametrize("days_stopped", [1, 3])
def test_a_digest_missed_while_stopped_is_caught_up_exactly_once(
    ws: Workspace, inbox: Inbox, days_stopped: int
) -> None:
    inbox.start()
    ws.extra = digest_config(inbox.port)
    # A digest went out, then the daemon was stopped while one or more slots passed: only the
    # latest period is caught up, never a backlog.
    record_sent(ws, (datetime.now(UTC).date() - timedelta(days=days_stopped)).isoformat())
    agent = ws.start()
    agent.wait_log(f"digest {today()} sent to ana@example.org")
    assert agent.stop()[0] == 0
    run_until_idle(ws)  # a restart within the same period sends nothing
    assert len(inbox.messages) == 1
    assert b"Auto-Submitted: auto-generated" in inbox.messages[0]
    assert ws.query(f"SELECT count(*) FROM digests WHERE period = '{today()}'") == [(1,)]
    assert ws.query("SELECT count(*) FROM digests") == [(2,)]
    status = json.loads(ws.cli("status", "--format", "json").stdout)
    assert status["digest"]["last"]["period"] == today()
    assert status["digest"]["due"] is False


def test_smtp_down_at_digest_time_then_back_sends_once(ws: Workspace, inbox: Inbox) -> None:
    ws.extra = digest_config(inbox.port)  # nothing listens there yet
    agent = ws.start()
    agent.wait_log(f"digest {today()} not sent: cannot reach SMTP server", count=2)
    assert inbox.messages == []
    assert ws.query("SELECT count(*) FROM digests") == [(0,)]
    inbox.start()
    agent.wait_log(f"digest {today()} sent", timeout=30)
    time.sleep(1)  # several more ticks: still one message
    assert agent.stop()[0] == 0
    run_until_idle(ws)
    assert len(inbox.messages) == 1
    assert ws.query("SELECT count(*) FROM digests") == [(1,)]


# -- IMAP down, then back -------------------------------------------------------------------


@pytest.mark.dovecot
def test_imap_down_then_back_is_retried_and_does_not_block_other_sources(
    ws: Workspace, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue("dovecot")
    from tests.servers import dovecot as dovecot_plugin

    for i in range(3):
        server.add_message(
            b"From: Carla <carla@example.com>\r\nTo: ana@example.org\r\nSubject: s%d\r\n"
            b"Message-ID: <imap%d@example.com>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
            b"\r\nx\r\n" % (i, i)
        )
    ws.extra = f"""
[[accounts]]
name = "work"
type = "imap"
host = "127.0.0.1"
port = {server.port}
security = "none"
username = "{server.user}"
password_env = "AGENT_TEST_IMAP_PASSWORD"
timeout = 5
"""
    dovecot_plugin._stop(server)
    agent = ws.start(AGENT_TEST_IMAP_PASSWORD=server.password)
    agent.wait_log("sync work failed", count=2)
    agent.wait_log("sync archive: 5 new")  # the maildir source is not held up
    dovecot_plugin._start(server)
    agent.wait_log("sync work: 3 new", timeout=40)
    assert agent.stop()[0] == 0
    assert ws.query("SELECT count(*) FROM messages") == [(8,)]
    status = json.loads(ws.cli("status", "--format", "json").stdout)
    work = next(s for s in status["sources"] if s["name"] == "work")
    assert work["state"] == "ok" and work["new"] == 3
    assert work["last_error"] is not None  # the outage stays visible after the recovery
