"""Real SMTP servers on loopback (aiosmtpd), collecting what they receive.

Fixtures: ``smtp_server`` (plain), ``smtp_auth_server`` (plain with AUTH, user "ana" /
password "s3cret"), ``smtp_refusing_server`` (rejects every recipient with 550),
``smtp_tls_server`` (implicit TLS) and ``smtp_starttls_server`` (STARTTLS required), both
with a self-signed certificate for 127.0.0.1 whose path is ``.ca_file``.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from tests.servers.common import free_port, self_signed, unavailable

USER, PASSWORD = "ana", "s3cret"


def part_text(message: EmailMessage, subtype: str) -> str:
    """The text of a received message's ``text/<subtype>`` part (a test fails without one)."""
    part = message.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    ca_file: str = ""

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]


class _Collector:
    def __init__(self, server: SmtpServer, refuse: bool = False) -> None:
        self.server = server
        self.refuse = refuse

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse:
            return "550 5.7.1 Relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=default).parsebytes(envelope.content)
        self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    ok = getattr(auth, "login", None) == USER.encode() and auth.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def _serve(
    server: SmtpServer,
    refuse: bool = False,
    collector: type[_Collector] = _Collector,
    **kwargs: Any,
) -> Iterator[SmtpServer]:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        unavailable("aiosmtpd is not installed (pip install -e '.[test]')")
    controller = Controller(
        collector(server, refuse), hostname=server.host, port=server.port, **kwargs
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from _serve(SmtpServer("127.0.0.1", free_port()))


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    yield from _serve(
        SmtpServer("127.0.0.1", free_port()),
        authenticator=_authenticator,
        auth_require_tls=False,  # loopback test server: AUTH without TLS is fine here
    )


TOKEN = "ya29.test-access-token"


class _OAuth2Collector(_Collector):
    """Offers AUTH XOAUTH2 (as Gmail and Microsoft 365 do) and accepts only ``TOKEN``."""

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
        from aiosmtpd.smtp import AuthResult

        if len(args) != 2:
            return AuthResult(success=False, handled=False)
        expected = f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01".encode()
        return AuthResult(success=base64.b64decode(args[1]) == expected, handled=False)


@pytest.fixture
def smtp_oauth2_server() -> Iterator[SmtpServer]:
    yield from _serve(
        SmtpServer("127.0.0.1", free_port()), collector=_OAuth2Collector,
        auth_require_tls=False,  # loopback test server
    )  # fmt: skip


@pytest.fixture
def smtp_refusing_server() -> Iterator[SmtpServer]:
    yield from _serve(SmtpServer("127.0.0.1", free_port()), refuse=True)


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert, key)."""
    return self_signed(tmp_path_factory.mktemp("smtp-tls"))


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def smtp_tls_server(smtp_certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port(), ca_file=str(smtp_certificate[0]))
    yield from _serve(server, ssl_context=_server_context(smtp_certificate))


@pytest.fixture
def smtp_starttls_server(smtp_certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port(), ca_file=str(smtp_certificate[0]))
    yield from _serve(server, tls_context=_server_context(smtp_certificate), require_starttls=True)
