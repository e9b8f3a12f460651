"""Start a throwaway Dovecot and PostgreSQL on loopback for the benchmark.

Plain context managers, not pytest fixtures, so the bench runs outside pytest. Both servers
live in a temp dir on a free port and are stopped (and their files removed) on exit. Works as
root (CI and the bench machine) and as an ordinary user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER = "bench"
PASSWORD = "bench-password"


@dataclass(frozen=True)
class Dovecot:
    port: int
    user: str
    password: str
    maildir: Path  # the Maildir++ root of USER: write messages here before the first SELECT
    uid: int
    gid: int

    def chown_tree(self) -> None:
        """Give files written by the (root) bench to the mail user Dovecot runs as."""
        if os.geteuid() != 0:
            return
        for dirpath, _dirs, files in os.walk(self.maildir):
            os.chown(dirpath, self.uid, self.gid)
            for name in files:
                os.chown(os.path.join(dirpath, name), self.uid, self.gid)


@dataclass(frozen=True)
class Postgres:
    port: int
    url: str
    version: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def ensure_system_deps(repo: Path) -> None:
    """Install Dovecot / PostgreSQL from Debian if missing (the script is idempotent)."""
    if Path(DOVECOT).exists() and _pg_bindir() is not None:
        return
    subprocess.run(["bash", str(repo / ".ci" / "system-deps.sh")], check=True)


# -- Dovecot --------------------------------------------------------------------------------


def _mail_ids() -> tuple[str, int, int]:
    """(login/internal user, mail uid, mail gid).

    Dovecot refuses to run mail processes as root, so as root we use the packaged unprivileged
    users; as an ordinary user everything runs as that user.
    """
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_uid, me.pw_gid
    mail = pwd.getpwnam("dovecot")
    return "dovenull", mail.pw_uid, mail.pw_gid


def _dovecot_conf(base: Path, port: int, login_user: str, uid: int, gid: int) -> str:
    internal = "dovecot" if os.geteuid() == 0 else login_user
    return f"""\
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal}
first_valid_uid = {min(uid, 1)}
first_valid_gid = {min(gid, 1)}
mail_location = maildir:{base}/home/%u/Maildir
mail_uid = {uid}
mail_gid = {gid}
mailbox_list_index = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@contextmanager
def dovecot() -> Iterator[Dovecot]:
    """A running Dovecot with one user (USER / PASSWORD) and an empty Maildir++ tree."""
    base = Path(tempfile.mkdtemp(prefix="bench-dovecot-"))
    os.chmod(base, 0o755)  # the unprivileged mail user must reach its home below
    login_user, uid, gid = _mail_ids()
    port = free_port()
    maildir = base / "home" / USER / "Maildir"
    for sub in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    conf = base / "dovecot.conf"
    conf.write_text(_dovecot_conf(base, port, login_user, uid, gid))
    server = Dovecot(port, USER, PASSWORD, maildir, uid, gid)
    server.chown_tree()
    if os.geteuid() == 0:
        os.chown(base / "home", uid, gid)
        os.chown(base / "home" / USER, uid, gid)
    subprocess.run([DOVECOT, "-c", str(conf)], check=True)
    try:
        wait_for_port(port)
        yield server
    finally:
        subprocess.run([DOVECOT, "-c", str(conf), "stop"], check=False)
        _wait_gone(base / "run" / "master.pid")
        shutil.rmtree(base, ignore_errors=True)


def _wait_gone(pidfile: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


# -- PostgreSQL -----------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_pg(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; the Debian package brings a postgres user.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres() -> Iterator[Postgres]:
    """A running PostgreSQL with an empty database ``bench`` (trust auth, loopback only)."""
    bindir = _pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (run: bash .ci/system-deps.sh)")
    base = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chmod(base, 0o755)
        os.chown(sock, pg.pw_uid, pg.pw_gid)
        data.mkdir(mode=0o700)
        os.chown(data, pg.pw_uid, pg.pw_gid)
    port = free_port()
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    _run(_as_pg([str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8"]))
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1"
    pg_ctl = str(bindir / "pg_ctl")
    _run(_as_pg([pg_ctl, "-D", str(data), "-o", opts, "-l", str(sock / "pg.log"), "-w", "start"]))
    try:
        _run(_as_pg([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user,
                     "bench"]))  # fmt: skip
        yield Postgres(port, f"postgresql://{user}@127.0.0.1:{port}/bench", bindir.parent.name)
    finally:
        subprocess.run(_as_pg([pg_ctl, "-D", str(data), "-m", "fast", "stop"]),
                       check=False, capture_output=True)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
