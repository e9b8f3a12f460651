"""The systemd notify protocol, spoken directly: datagrams of KEY=VALUE lines to $NOTIFY_SOCKET.

No libsystemd: the protocol is one sendto() on an AF_UNIX datagram socket. A path starting with
"@" names a socket in the abstract namespace (the "@" becomes a NUL byte). Without
$NOTIFY_SOCKET (not started by systemd with Type=notify) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends state changes to the service manager; never raises (a lost message is not fatal)."""

    def __init__(self, address: str | None) -> None:
        self.address = _socket_address(address) if address else None
        self._sock: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        return cls(environ.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str) -> bool:
        """Send one message, e.g. ``send(READY="1", STATUS="syncing")``; True if it went out."""
        if self.address is None:
            return False
        # A newline would start a new assignment: keep every value on one line.
        payload = "\n".join(f"{k}={_one_line(v)}" for k, v in fields.items())
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload.encode("utf-8"), self.address)
        except OSError as exc:
            log.debug("sd_notify to %r failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send(READY="1", STATUS=status, MAINPID=str(os.getpid()))

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def stopping(self, status: str = "stopping") -> bool:
        return self.send(STOPPING="1", STATUS=status)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(
    environ: Mapping[str, str] = os.environ, pid: int | None = None
) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), or None when no watchdog is set.

    $WATCHDOG_PID, when set, names the process the watchdog is meant for; for any other process
    (a child that inherited the environment) there is no watchdog.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2_000_000 if value > 0 else None


def _socket_address(address: str) -> str:
    if address.startswith("@"):
        return "\0" + address[1:]
    return address


def _one_line(value: str) -> str:
    return " ".join(str(value).splitlines())
