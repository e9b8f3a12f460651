"""The IMAP connector when things go wrong: each fault is one test, against a real Dovecot."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from agent.config.secrets import SecretSpec
from agent.errors import OperationError, UserError
from agent.store.database import Store
from connectors.mail.imap import ImapConnector
from tests.imap_helpers import ME_CONFIG, DropProxy, Recorder, fill, keys, locations, open_store
from tests.servers.common import free_port
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.dovecot
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "agent.db")


def test_connection_dropped_mid_fetch_loses_and_doubles_nothing(
    dovecot: DovecotServer, store: Store
) -> None:
    fill(dovecot, inbox=7, sent=2)
    proxy = DropProxy(dovecot.port, drop_at=2)
    try:
        account = dovecot.account(port=proxy.port, batch_size=3)
        with pytest.raises(OperationError, match=f"127.0.0.1:{proxy.port} lost"):
            ImapConnector(account, ME_CONFIG).sync(store)
    finally:
        proxy.close()
    assert proxy.dropped.is_set()
    assert store.message_count() == 3  # the first batch, committed with its cursor
    assert store.get_cursor("dovecot", "INBOX")["last_uid"] == 3  # type: ignore[index]
    recorder = Recorder()
    connector = ImapConnector(dovecot.account(batch_size=3), ME_CONFIG, client_factory=recorder)
    assert connector.sync(store) == 6
    assert recorder.fetched == [4, 5, 6, 7, 1, 2]  # INBOX from where it broke, then Sent
    assert store.message_count() == 9
    assert len(locations(store)) == 9


KILLED_SYNC = """
import sys, time
from agent.config.settings import AccountConfig, MeConfig
from agent.config.secrets import SecretSpec
from agent.store.database import Store
from connectors.mail.imap import ImapConnector

db, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
account = AccountConfig(name="dovecot", type="imap", host="127.0.0.1", port=port,
                        security="none", username="alice", batch_size=2,
                        secret=SecretSpec(kind="plain", value=password))

def progress(source, folder, done, total):
    print(folder, done, total, flush=True)
    time.sleep(120)  # hold still until the test kills us

ImapConnector(account, MeConfig("A", ("alice@example.org",), "UTC")).sync(
    Store.open("sqlite:///" + db), progress)
"""


def test_killed_mid_sync_resumes(dovecot: DovecotServer, tmp_path: Path) -> None:
    fill(dovecot, inbox=5, sent=1)
    db = tmp_path / "killed.db"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_SYNC, str(db), str(dovecot.port), dovecot.password],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        first = child.stdout.readline() if child.stdout else b""
        assert first == b"INBOX 2 5\n", child.stderr.read() if child.stderr else b""
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    store = open_store(db)
    assert store.message_count() == 2
    assert _sync(dovecot, store, batch_size=2) == 4
    assert store.message_count() == 6
    assert len(keys(store)) == 6
    assert len(locations(store)) == 6


def test_unreachable_host(dovecot: DovecotServer, store: Store) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(OperationError, match=f"cannot connect to 127.0.0.1:{port}: .*refused"):
        ImapConnector(dovecot.account(port=port), ME_CONFIG).sync(store)


def test_server_that_never_answers_times_out(dovecot: DovecotServer, store: Store) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (backlog), never greets
        port = silent.getsockname()[1]
        account = dovecot.account(port=port, timeout=0.5)
        with pytest.raises(OperationError, match=f"127.0.0.1:{port}: timed out"):
            ImapConnector(account, ME_CONFIG).check()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_bad_tls_certificate(dovecot_tls: DovecotServer, store: Store, security: str) -> None:
    port = dovecot_tls.port if security == "ssl" else dovecot_tls.starttls_port
    account = dovecot_tls.account(security=security, port=port)  # no ca_file: self-signed fails
    with pytest.raises(OperationError, match="could not be verified") as caught:
        ImapConnector(account, ME_CONFIG).sync(store)
    assert "ca_file" in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert store.message_count() == 0


def test_unreadable_ca_file(dovecot_tls: DovecotServer, tmp_path: Path) -> None:
    account = dovecot_tls.account(ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(UserError, match=r"\[accounts.dovecot\] ca_file: cannot load"):
        ImapConnector(account, ME_CONFIG).check()


def test_starttls_not_offered(dovecot: DovecotServer, store: Store) -> None:
    account = dovecot.account(security="starttls")  # this Dovecot has ssl = no
    with pytest.raises(OperationError, match=f"127.0.0.1:{dovecot.port} does not offer STARTTLS"):
        ImapConnector(account, ME_CONFIG).sync(store)


def test_missing_configured_folder(dovecot: DovecotServer, store: Store) -> None:
    fill(dovecot, inbox=2, sent=0)
    account = dovecot.account(folders=("INBOX", "Archive"))
    with pytest.raises(UserError, match=r"\[accounts.dovecot\] folders: .* no folder 'Archive'"):
        ImapConnector(account, ME_CONFIG).sync(store)
    assert store.message_count() == 0  # every folder is checked before anything is read


def test_secret_never_logged(
    dovecot: DovecotServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    fill(dovecot, inbox=1, sent=1)
    caplog.set_level(logging.DEBUG)
    # Explicitly: an in-process CLI test earlier in the run may have raised this logger's level.
    caplog.set_level(logging.DEBUG, logger="imapclient")
    ImapConnector(dovecot.account(), ME_CONFIG).sync(store)
    with pytest.raises(OperationError):
        account = replace(dovecot.account(), secret=SecretSpec(kind="plain", value="w0rng pass"))
        ImapConnector(account, ME_CONFIG).sync(store)
    assert "LOGIN" in caplog.text  # imapclient's protocol log was captured...
    assert dovecot.password not in caplog.text  # ...with the password redacted
    assert "w0rng" not in caplog.text


def _sync(server: DovecotServer, store: Store, **kw: object) -> int:
    return ImapConnector(server.account(**kw), ME_CONFIG).sync(store)
