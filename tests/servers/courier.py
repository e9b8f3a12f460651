"""A real Courier-IMAP (5.0.x, Debian's build) for the connector to talk to.

Courier's packages conflict with dovecot-imapd, so .ci/system-deps.sh unpacks them under
/opt/courier-imap instead of installing them. Courier's own login chain needs its
authentication daemon and system paths; the fixture runs its IMAP server the way an
authenticating proxy or tunnel does instead: one `imapd MAILDIR` per connection, greeting
with PREAUTH. Everything after the greeting (SELECT, STATUS, SEARCH, FETCH and their
answers) is Courier's own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from agent.config.secrets import SecretSpec
from agent.config.settings import AccountConfig
from tests.servers.common import unavailable

ROOT = Path(os.environ.get("COURIER_ROOT", "/opt/courier-imap"))
IMAPD = ROOT / "usr" / "bin" / "imapd"
_counter = count(1)


@dataclass
class CourierServer:
    maildir: Path
    port: int = 0
    host: str = "127.0.0.1"
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    def add_message(self, raw: bytes, folder: str = "INBOX") -> Path:
        """A file in the Maildir as a delivery agent writes it (Courier reads them as they are)."""
        directory = self.maildir if folder == "INBOX" else self.maildir / f".{folder}"
        for sub in ("cur", "new", "tmp"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        path = directory / "cur" / f"{int(time.time())}.M{next(_counter)}.courier:2,S"
        path.write_bytes(raw)
        return path

    def account(self, **overrides: Any) -> AccountConfig:
        base = AccountConfig(
            name="courier", type="imap", host=self.host, port=self.port, security="none",
            username="ana", secret=SecretSpec(kind="plain", value="unused: PREAUTH"),
            timeout=10.0,
        )  # fmt: skip
        return replace(base, **overrides)


def _env() -> dict[str, str]:
    libs = [str(ROOT / "usr" / "lib"), str(ROOT / "usr" / "lib" / "x86_64-linux-gnu")]
    return {
        "PATH": "/usr/bin:/bin",
        "LD_LIBRARY_PATH": ":".join(libs),
        # Courier watches the Maildir through Gamin; without its server it greets with an
        # ALERT before PREAUTH.
        "GAMIN_DEBUG_SERVER": str(ROOT / "usr" / "libexec" / "gam_server"),
        "HOME": "/tmp",
    }


def _serve(server: CourierServer, listener: socket.socket) -> None:
    listener.settimeout(0.2)
    while not server._stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        with conn:
            child = subprocess.Popen(
                [str(IMAPD), str(server.maildir)], stdin=conn.fileno(), stdout=conn.fileno(),
                stderr=subprocess.DEVNULL, env=_env(),
            )  # fmt: skip
        server._children.append(child)


@pytest.fixture
def courier(tmp_path: Path) -> Iterator[CourierServer]:
    if not IMAPD.exists():
        unavailable(f"no Courier-IMAP at {ROOT} (.ci/system-deps.sh unpacks it there)")
    maildir = tmp_path / "courier-Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    server = CourierServer(maildir, port=listener.getsockname()[1])
    thread = threading.Thread(target=_serve, args=(server, listener), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._stop.set()
        thread.join(timeout=5)
        listener.close()
        for child in server._children:
            child.kill()
            child.wait(timeout=5)
