"""pytest plugin: a real Radicale CalDAV server on loopback, in a temp dir, for the session.

Auth is htpasswd with a plain password, so connectors exercise basic auth as with a real server.
Each test makes its own calendar (``radicale.calendar_url(name)``) and so does not see others'.
"""

from __future__ import annotations

import base64
import importlib.util
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.common import free_port, unavailable, wait_for_port

USER = "ana"
PASSWORD = "radicale-secret"
# A second account whose principal holds only what one test puts there (discovery tests).
OTHER_USER = "bert"
OTHER_PASSWORD = "bert-secret"
CONFIG = """\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {root}/users
htpasswd_encryption = plain
# Radicale sleeps after a failed login by default; tests probe bad logins on purpose.
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {root}/collections

[logging]
level = warning
"""


@dataclass(frozen=True)
class Radicale:
    port: int
    root: Path
    user: str = USER
    password: str = PASSWORD

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def principal_url(self) -> str:
        return f"{self.url}{self.user}/"

    def calendar_url(self, name: str = "") -> str:
        """Create a new, empty calendar (MKCALENDAR) and return its URL."""
        name = name or uuid.uuid4().hex[:12]
        url = f"{self.principal_url}{name}/"
        self.request("MKCALENDAR", url)
        return url

    def addressbook_url(self, name: str = "") -> str:
        """Create a new, empty address book (an extended MKCOL) and return its URL."""
        name = name or uuid.uuid4().hex[:12]
        url = f"{self.principal_url}{name}/"
        body = (
            '<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" '
            'xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype>'
            "<d:collection/><c:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>"
        )
        self.request("MKCOL", url, body.encode(), {"Content-Type": "application/xml"})
        return url

    def put_card(self, url: str, vcf: str | bytes) -> None:
        body = vcf.encode() if isinstance(vcf, str) else vcf
        self.request("PUT", url, body, {"Content-Type": "text/vcard; charset=utf-8"})

    def put(self, url: str, ics: str | bytes) -> None:
        body = ics.encode() if isinstance(ics, str) else ics
        self.request("PUT", url, body, {"Content-Type": "text/calendar; charset=utf-8"})

    def delete(self, url: str) -> None:
        self.request("DELETE", url)

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> int:
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        req.add_header("Authorization", _basic(self.user, self.password))
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)


def _basic(user: str, password: str) -> str:

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """A running Radicale; skipped (failed under CI=true) when radicale is not installed."""
    if importlib.util.find_spec("radicale") is None:
        unavailable("radicale is not installed (pip install radicale)")
    root = tmp_path_factory.mktemp("radicale")
    port = free_port()
    (root / "users").write_text(f"{USER}:{PASSWORD}\n{OTHER_USER}:{OTHER_PASSWORD}\n")
    (root / "config").write_text(CONFIG.format(port=port, root=root))
    log = (root / "radicale.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(root / "config")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(proc, port, root)
        yield Radicale(port=port, root=root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait(proc: subprocess.Popen[bytes], port: int, root: Path) -> None:
    try:
        wait_for_port(port)
    except RuntimeError:
        proc.kill()
        unavailable(f"radicale did not start: {(root / 'radicale.log').read_text()[-2000:]}")
    # The port opens before the app is ready to answer; wait for a real HTTP reply.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/.web/", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
