"""Pytest plugin: a real Dovecot IMAP server on loopback, one per test, in its own temp dir.

``dovecot`` listens in plain text (``ssl = no``); ``dovecot_tls`` has an implicit-TLS port and
a STARTTLS port with a self-signed certificate made at test time (``cert`` is its PEM file).
Dovecot refuses to run login or mail processes as root, so under root (CI) they run as
dovenull / nobody and the temp dir belongs to them; as any other user everything runs as that
user ("rootless" Dovecot). Fixtures return a ``DovecotServer``: host, port, user, password,
``maildir``, helpers to add mail and to force a UIDVALIDITY change, and ``account()``.
"""

from __future__ import annotations

import contextlib
import grp
import http.server
import itertools
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from agent.config.secrets import SecretSpec
from agent.config.settings import AccountConfig
from tests.servers.common import free_port, self_signed, unavailable, wait_for_port

DOVECOT = Path("/usr/sbin/dovecot")
DOVEADM = Path("/usr/bin/doveadm")
USER = "alice"
PASSWORD = "s3cret pass"  # a space: LOGIN must quote it
_counter = itertools.count()


@dataclass(frozen=True)
class _Identity:
    """Who Dovecot's processes run as."""

    login_user: str
    mail_user: str
    mail_group: str
    uid: int
    gid: int
    rootless: bool


@dataclass
class DovecotServer:
    root: Path
    conf: Path
    identity: _Identity
    port: int  # implicit TLS when ``cert`` is set, else plain text
    starttls_port: int = 0  # plain port offering STARTTLS; 0 when TLS is off
    cert: Path | None = None
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    oauth2_url: str = ""  # token introspection endpoint; set: XOAUTH2 logins are accepted

    @property
    def maildir(self) -> Path:
        return self.root / "home" / self.user / "Maildir"

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Take the server down (to test an outage); ``start()`` brings it back on the same port."""
        _stop(self)

    def start(self) -> None:
        _start(self)

    def folder_dir(self, folder: str) -> Path:
        """The Maildir++ directory of a folder ("INBOX" is the root, "Sent" is ".Sent")."""
        if folder.upper() == "INBOX":
            return self.maildir
        return self.maildir / ("." + folder.replace("/", "."))

    def add_message(self, raw: bytes, folder: str = "INBOX", mtime: float | None = None) -> Path:
        """Deliver ``raw`` as a file in ``folder``/cur; ``mtime`` becomes its INTERNALDATE."""
        directory = self._ensure_folder(folder)
        name = f"{int(time.time())}.M{next(_counter)}P{os.getpid()}.test:2,S"
        tmp = directory / "tmp" / name.split(":")[0]
        tmp.write_bytes(raw)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        self._own(tmp)
        final = directory / "cur" / name
        tmp.rename(final)
        return final

    def save(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver ``raw`` through ``doveadm save`` (Dovecot assigns the UID at once)."""
        self.doveadm("save", "-u", self.user, "-m", folder, stdin=raw)

    def set_uidvalidity(self, folder: str, value: int) -> None:
        self.doveadm("mailbox", "update", "--uid-validity", str(value), "-u", self.user, folder)

    def status(self, folder: str) -> dict[str, int]:
        """e.g. ``{"messages": 3, "uidnext": 4, "uidvalidity": 1700000000}``."""
        out = self.doveadm(
            "-f", "flow", "mailbox", "status", "-u", self.user, "messages uidnext uidvalidity",
            folder,
        )  # fmt: skip
        pairs = (item.split("=", 1) for item in out.split() if "=" in item)
        return {k: int(v) for k, v in pairs}

    def doveadm(self, *args: str, stdin: bytes | None = None) -> str:
        done = subprocess.run(
            [str(DOVEADM), "-c", str(self.conf), *args],
            input=stdin, capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode(errors="replace")

    def account(self, **overrides: Any) -> AccountConfig:
        """An [[accounts]] entry for this server: security "none", or "ssl" with TLS on."""
        base = AccountConfig(
            name="dovecot",
            type="imap",
            host=self.host,
            port=self.port,
            security="none" if self.cert is None else "ssl",
            username=self.user,
            secret=SecretSpec(kind="plain", value=self.password),
            timeout=10.0,
            batch_size=500,
        )
        return replace(base, **overrides)

    def _ensure_folder(self, folder: str) -> Path:
        directory = self.folder_dir(folder)
        for sub in ("cur", "new", "tmp"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        if directory != self.maildir:
            (directory / "maildirfolder").touch()
        for path in (self.maildir, directory, *(directory / s for s in ("cur", "new", "tmp"))):
            self._own(path)
        return directory

    def _own(self, path: Path) -> None:
        if not self.identity.rootless:
            os.chown(path, self.identity.uid, self.identity.gid)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A plain-text Dovecot (``ssl = no``) with user alice, INBOX and a \\Sent folder."""
    yield from _serve(tls=False)


@pytest.fixture
def dovecot_tls() -> Iterator[DovecotServer]:
    """Dovecot with TLS on ``port`` and STARTTLS on ``starttls_port``, self-signed ``cert``."""
    yield from _serve(tls=True)


class TokenIssuer:
    """The OAuth2 provider's side, as far as Dovecot sees it: an RFC 7662 introspection
    endpoint on loopback that knows which access tokens are valid and for whom."""

    def __init__(self, user: str) -> None:
        self.valid: set[str] = set()
        self.asked: list[str] = []
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                token = urllib.parse.parse_qs(body.decode()).get("token", [""])[0]
                issuer.asked.append(token)
                answer: dict[str, Any] = {"active": token in issuer.valid}
                if answer["active"]:
                    answer["username"] = user
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # Never block in accept(): shutdown() waits for the serve loop to come round.
        self.httpd.socket.setblocking(False)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/introspect"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        self.valid.add(token)
        return token

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def dovecot_oauth2() -> Iterator[tuple[DovecotServer, TokenIssuer]]:
    """Plain-text Dovecot that also accepts XOAUTH2, checking tokens with a ``TokenIssuer``."""
    issuer = TokenIssuer(USER)
    try:
        for server in _serve(tls=False, oauth2_url=issuer.url):
            yield server, issuer
    finally:
        issuer.close()


def _serve(tls: bool, oauth2_url: str = "") -> Iterator[DovecotServer]:
    if not DOVECOT.exists() or not DOVEADM.exists():
        unavailable("Dovecot is not installed (bash .ci/system-deps.sh installs dovecot-imapd)")
    identity = _identity()
    root = Path(tempfile.mkdtemp(prefix="dovecot-"))  # short: socket paths have a length limit
    server = DovecotServer(root=root, conf=root / "dovecot.conf", identity=identity, port=0)
    server.oauth2_url = oauth2_url
    try:
        _prepare(server, tls)
        _start(server)
        yield server
    finally:
        _stop(server)
        shutil.rmtree(root, ignore_errors=True)


def _identity() -> _Identity:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(me.pw_gid).gr_name
        return _Identity(me.pw_name, me.pw_name, group, me.pw_uid, me.pw_gid, rootless=True)
    # Dovecot refuses uid 0 for login and mail processes.
    login = "dovenull" if _user_exists("dovenull") else "nobody"
    mail = pwd.getpwnam("nobody")
    group = grp.getgrgid(mail.pw_gid).gr_name
    return _Identity(login, mail.pw_name, group, mail.pw_uid, mail.pw_gid, rootless=False)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _prepare(server: DovecotServer, tls: bool) -> None:
    server.port = free_port()
    if tls:
        server.starttls_port = free_port()
        server.cert, _ = self_signed(server.root)
    (server.root / "passwd").write_text(f"{server.user}:{{PLAIN}}{server.password}\n")
    server.conf.write_text(_config(server))
    server._ensure_folder("INBOX")
    server._ensure_folder("Sent")
    if not server.identity.rootless:
        for path in (server.root, server.root / "home", server.root / "home" / server.user):
            os.chown(path, server.identity.uid, server.identity.gid)
        server.root.chmod(0o755)


def _config(server: DovecotServer) -> str:
    ident, root = server.identity, server.root
    # Rootless Dovecot cannot chroot; as root the default chroots stay.
    no_chroot = "  chroot =\n" if ident.rootless else ""
    return f"""\
base_dir = {root}/run
state_dir = {root}/state
instance_name = dovecot-test-{server.port}
log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
{_ssl_settings(server)}
disable_plaintext_auth = no
auth_mechanisms = plain login{" xoauth2 oauthbearer" if server.oauth2_url else ""}
default_login_user = {ident.login_user}
default_internal_user = {ident.mail_user}
default_internal_group = {ident.mail_group}
first_valid_uid = {ident.uid}
first_valid_gid = {min(ident.gid, 1)}
mail_uid = {ident.uid}
mail_gid = {ident.gid}
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
{_oauth2_passdb(server)}userdb {{
  driver = static
  args = uid={ident.uid} gid={ident.gid} home={root}/home/%u
}}
service imap-login {{
{no_chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {server.starttls_port if server.cert else server.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {server.port if server.cert else 0}
    ssl = yes
  }}
}}
service anvil {{
{no_chroot}}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    auto = create
    special_use = \\Sent
  }}
}}
"""


def _oauth2_passdb(server: DovecotServer) -> str:
    """Dovecot's oauth2 passdb asks ``oauth2_url`` (RFC 7662 introspection) about each token."""
    if not server.oauth2_url:
        return ""
    args = server.root / "oauth2.conf.ext"
    args.write_text(
        f"introspection_mode = post\nintrospection_url = {server.oauth2_url}\n"
        "force_introspection = yes\nusername_attribute = username\n"
        "active_attribute = active\nactive_value = true\n"
    )
    return f"passdb {{\n  driver = oauth2\n  args = {args}\n}}\n"


def _ssl_settings(server: DovecotServer) -> str:
    if server.cert is None:
        return "ssl = no"
    return f"ssl = yes\nssl_cert = <{server.cert}\nssl_key = <{server.cert.parent / 'key.pem'}"


def _start(server: DovecotServer) -> None:
    # stderr to a file: only early fatal errors go there, but a full pipe would block Dovecot.
    with (server.root / "stderr.log").open("ab") as stderr:
        server.process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(server.conf)],
            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
        )  # fmt: skip
    try:
        for port in (server.port, server.starttls_port):
            if port:
                wait_for_port(port, timeout=15)
    except RuntimeError:
        _stop(server)
        early = (server.root / "stderr.log").read_text(errors="replace")
        raise RuntimeError(f"Dovecot did not start:\n{early}\n{server.log}") from None


def _stop(server: DovecotServer) -> None:
    proc = server.process
    if proc is None or proc.poll() is not None:
        return
    # Dovecot's master lingers a second on SIGTERM; its session group holds only test processes.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
