"""Pytest plugin: a real PostgreSQL cluster on loopback, one per test session, in a temp dir.

Debian's binaries (``/usr/lib/postgresql/<version>/bin``, installed by ``.ci/system-deps.sh``)
run ``initdb`` and ``pg_ctl`` on a throwaway data directory: trust auth, TCP on 127.0.0.1 at a
free port, the unix socket inside the temp dir, durability switched off for speed. initdb
refuses to run as root, so under root (CI) the temp dir belongs to the ``postgres`` system user
and every binary runs through ``runuser -u postgres --``; as any other user they run directly.

``postgres_server`` is the session's cluster; ``postgres_url`` is a fresh, empty database per
test (``postgresql+psycopg://postgres@127.0.0.1:PORT/test_N``), dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.common import free_port, unavailable

SUPERUSER = "postgres"
_counter = itertools.count(1)


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    root: Path  # the temp dir: data/, sock/, server.log

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        conninfo = f"host={self.host} port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)


def _bindir() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def _as_owner() -> list[str]:
    """The prefix that runs a binary as the cluster's owner."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        unavailable("running as root, but there is no 'postgres' user to own the cluster")
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--"]
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


def _run(cmd: list[str], cwd: Path, timeout: float = 60.0) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )


def _make_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="agent-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    return root


def _start(bindir: Path, prefix: list[str], root: Path) -> int:
    data, sock, logfile = root / "data", root / "sock", root / "server.log"
    _run([*prefix, "mkdir", "-p", str(sock)], root)
    _run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
         "--encoding=UTF8", "--locale=C", "--no-sync"],
        root,
    )  # fmt: skip
    last_error: Exception | None = None
    for _attempt in range(3):  # a free port can be taken between free_port() and listen()
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        try:
            _run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-w",
                 "-t", "30", "-o", options, "start"],
                root,
            )  # fmt: skip
            return port
        except RuntimeError as exc:
            last_error = exc
    log = logfile.read_text(errors="replace") if logfile.exists() else ""
    raise RuntimeError(f"PostgreSQL did not start: {last_error}\n{log[-2000:]}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole session; stopped (immediate) and removed at the end."""
    bindir = _bindir()
    if bindir is None:
        unavailable(
            "PostgreSQL binaries not found in /usr/lib/postgresql/*/bin (.ci/system-deps.sh)"
        )
        raise AssertionError("unreachable")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[test]')")
    prefix = _as_owner()
    root = _make_root()
    try:
        port = _start(bindir, prefix, root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield PostgresServer(host="127.0.0.1", port=port, user=SUPERUSER, root=root)
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"],
            cwd=root,
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL to a new, empty database of its own for this test."""
    name = f"test_{next(_counter)}"
    postgres_server.admin(f"CREATE DATABASE {name}")
    yield postgres_server.url(name)
    postgres_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
