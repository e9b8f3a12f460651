"""The sd_notify protocol against a real AF_UNIX datagram socket, path and abstract."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.runtime.notify import Notifier, watchdog_interval


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
    else:
        name = f"agent-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        address = "@" + name
    sock.settimeout(2)
    yield sock, address
    sock.close()


def test_messages_arrive_as_key_value_lines(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    notifier = Notifier(address)
    assert notifier.ready("started")
    assert sock.recv(4096).decode().split("\n") == [
        "READY=1",
        "STATUS=started",
        f"MAINPID={os.getpid()}",
    ]
    notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1\nSTATUS=stopping"
    notifier.close()


def test_a_newline_in_a_value_cannot_start_a_new_assignment(
    listener: tuple[socket.socket, str],
) -> None:
    sock, address = listener
    Notifier(address).status("sync failed:\nREADY=1")
    assert sock.recv(4096) == b"STATUS=sync failed: READY=1"


def test_from_environ_reads_notify_socket(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": address})
    assert notifier.enabled
    notifier.status("hello")
    assert sock.recv(4096) == b"STATUS=hello"


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert notifier.ready("x") is False
    assert notifier.watchdog() is False


def test_a_vanished_socket_is_not_fatal(tmp_path: Path) -> None:
    assert Notifier(str(tmp_path / "gone.sock")).status("x") is False


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "junk"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None


def test_watchdog_is_only_for_the_process_named_by_watchdog_pid() -> None:
    env = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "4242"}
    assert watchdog_interval(env, pid=4242) == 1.0
    assert watchdog_interval(env, pid=4243) is None
