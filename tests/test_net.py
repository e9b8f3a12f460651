"""connectors.net: one TLS and clear-text policy for IMAP, calendars and SMTP (pure, no I/O)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from agent.errors import UserError
from connectors import net


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("LOCALHOST.", True), ("127.0.0.1", True), ("127.8.9.10", True),
     ("::1", True), ("[::1]", True), ("cal.localhost", True), ("mail.lan", False),
     ("10.0.0.1", False), ("127.0.0.1.example.org", False), ("", False)],
)  # fmt: skip
def test_loopback_is_decided_in_one_place(host: str, loopback: bool) -> None:
    assert net.is_loopback(host) is loopback


def test_contexts_always_verify(tmp_path: Path) -> None:
    context = net.tls_context("accounts.work")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize("table", ["accounts.work", "calendars.team", "smtp"])
def test_a_ca_file_is_expanded_and_refused_alike_everywhere(
    table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CERTS", str(tmp_path / "certs"))
    for value, path in (
        ("~/ca.pem", tmp_path / "ca.pem"),
        ("$CERTS/ca.pem", tmp_path / "certs/ca.pem"),
    ):
        with pytest.raises(UserError) as caught:
            net.tls_context(table, value)
        assert str(caught.value).startswith(f"[{table}] ca_file: cannot load {path}: ")
    assert net.ca_bundle(table, "") == ""


def test_a_ca_file_that_loads_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_certificate: tuple[Path, Path]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "ca.pem").write_bytes(smtp_certificate[0].read_bytes())
    context = net.tls_context("smtp", "~/ca.pem")
    assert context.cert_store_stats()["x509_ca"] >= 1
    assert net.ca_bundle("smtp", "~/ca.pem") == str(tmp_path / "ca.pem")


def test_clear_text_is_warned_about_only_off_this_machine() -> None:
    assert net.clear_text_warning("smtp", "security = 'none'", "127.0.0.1", "the digest") is None
    warning = net.clear_text_warning("smtp", "security = 'none'", "relay.lan", "the digest")
    assert warning == (
        "[smtp] security = 'none' sends the digest to relay.lan in clear text; "
        "use TLS unless this network is yours alone"
    )
