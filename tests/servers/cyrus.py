"""A real Cyrus IMAP (3.6, Debian's build) for the connector to talk to.

.ci/system-deps.sh unpacks Cyrus under /opt/cyrus-imapd (its packages would pull in their own
system configuration) and creates the system user "cyrus" its master process runs services
as. The fixture writes a private imapd.conf (any password passes: sasl_pwcheck_method
alwaystrue, a test server) and starts master on a free loopback port; mail gets in through
IMAP APPEND, as a mail client's copy to Sent does.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from agent.config.secrets import SecretSpec
from agent.config.settings import AccountConfig
from tests.servers.common import free_port, unavailable, wait_for_port

ROOT = Path(os.environ.get("CYRUS_ROOT", "/opt/cyrus-imapd"))
BIN = ROOT / "usr" / "lib" / "cyrus" / "bin"
USER = "ana"

IMAPD_CONF = """configdirectory: {root}/conf
partition-default: {root}/spool
sasl_pwcheck_method: alwaystrue
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
unixhierarchysep: yes
altnamespace: yes
autocreate_inbox_folders: Sent
autocreate_quota: 0
lmtpsocket: {root}/run/lmtp
idlesocket: {root}/run/idle
notifysocket: {root}/run/notify
syslog_prefix: cyrus-test
"""

CYRUS_CONF = """START {{
  recover cmd="{bin}/ctl_cyrusdb -C {conf} -r"
}}
SERVICES {{
  imap cmd="{bin}/imapd -C {conf}" listen="127.0.0.1:{port}" prefork=0
}}
EVENTS {{
}}
"""


@dataclass
class CyrusServer:
    port: int
    host: str = "127.0.0.1"

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into ``folder`` as a mail client does: IMAP APPEND."""
        with imaplib.IMAP4(self.host, self.port, timeout=10) as client:
            client.login(USER, "any")
            typ, data = client.append(folder, r"(\Seen)", None, raw)
            assert typ == "OK", data

    def account(self, **overrides: Any) -> AccountConfig:
        base = AccountConfig(
            name="cyrus", type="imap", host=self.host, port=self.port, security="none",
            username=USER, secret=SecretSpec(kind="plain", value="any"), timeout=10.0,
        )  # fmt: skip
        return replace(base, **overrides)


@pytest.fixture
def cyrus() -> Iterator[CyrusServer]:
    if not (BIN / "master").exists():
        unavailable(f"no Cyrus IMAP at {ROOT} (.ci/system-deps.sh unpacks it there)")
    try:
        user = pwd.getpwnam("cyrus")
    except KeyError:
        unavailable("no system user 'cyrus' (.ci/system-deps.sh creates it)")
    if os.geteuid() != 0:
        unavailable("Cyrus' master must start as root to run its services as 'cyrus'")
    # Not under pytest's tmp_path: its 0700 parents keep the cyrus user out.
    root = Path(tempfile.mkdtemp(prefix="cyrus-"))
    for sub in ("conf", "spool", "run"):
        (root / sub).mkdir()
    port = free_port()
    conf = root / "imapd.conf"
    conf.write_text(IMAPD_CONF.format(root=root))
    (root / "cyrus.conf").write_text(CYRUS_CONF.format(bin=BIN, conf=conf, port=port))
    for path in (root, *root.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid)
    root.chmod(0o755)
    libs = [ROOT / "usr" / "lib" / "x86_64-linux-gnu", ROOT / "lib" / "x86_64-linux-gnu"]
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": ":".join(map(str, libs))}
    master = subprocess.Popen(
        [str(BIN / "master"), "-C", str(conf), "-M", str(root / "cyrus.conf"),
         "-p", str(root / "run" / "master.pid"), "-D"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield CyrusServer(port)
    finally:
        os.killpg(master.pid, signal.SIGTERM)
        try:
            master.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(master.pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
