"""Shared helpers for fixtures that start real servers on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPORA = SHARED / "corpora"


def unavailable(what: str) -> None:
    """Skip the test, except under CI=true where a missing server or corpus is a failure."""
    if IN_CI:
        pytest.fail(f"{what} (under CI=true this is a failure, not a skip)")
    pytest.skip(what)


def corpora() -> Path:
    if not CORPORA.is_dir():
        unavailable(f"no corpora at {CORPORA}")
    return CORPORA


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate (and its key) for 127.0.0.1 and localhost that no system trusts."""
    if shutil.which("openssl") is None:
        unavailable("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key
