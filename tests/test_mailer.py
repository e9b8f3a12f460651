"""agent/digest/mailer.py against real aiosmtpd servers on loopback: plain, AUTH, SSL, STARTTLS."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.config.settings import Config
from agent.digest import mailer
from agent.errors import OperationError, UserError
from tests.digest_fixtures import config
from tests.servers.common import free_port
from tests.servers.smtp import PASSWORD, TOKEN, USER, SmtpServer, part_text

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Europe/Berlin"))
PARTS = [("plain", "Fading (1)\n  Carla Diaz\n"), ("html", "<p>Fading (1) – Carla Díaz</p>\n")]

pytestmark = pytest.mark.smtp


def smtp_config(server: SmtpServer, security: str = "none", **smtp: Any) -> Config:
    table = {"host": server.host, "port": server.port, "security": security, **smtp}
    return config(digest={"to": "ana@example.org"}, smtp=table)


def send(cfg: Config, subject: str = "Your relationship digest — 2026-11-23") -> str:
    env = mailer.envelope(cfg)
    return mailer.send(env, mailer.build_message(env, subject, PARTS, NOW))


def lf(text: str) -> str:
    return text.replace("\r\n", "\n")  # SMTP carries CRLF line ends


def test_sends_multipart_alternative_with_both_parts(smtp_server: SmtpServer) -> None:
    message_id = send(smtp_config(smtp_server, **{"from": "agent@example.org"}))
    [got] = smtp_server.received
    assert got.mail_from == "agent@example.org" and got.rcpt_tos == ["ana@example.org"]
    msg = got.message
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert lf(part_text(msg, "plain")) == PARTS[0][1]
    assert lf(part_text(msg, "html")) == PARTS[1][1]
    assert msg["Message-ID"] == message_id and message_id.endswith("@example.org>")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["From"] == "Relationship agent <agent@example.org>"
    assert msg["To"] == "Ana <ana@example.org>"  # [me] name
    assert msg["Subject"] == "Your relationship digest — 2026-11-23"
    assert msg["Date"].datetime == NOW


def test_localized_subject_survives_encoding(smtp_server: SmtpServer) -> None:
    send(smtp_config(smtp_server), "Dein Beziehungs-Überblick — 2026-11-23")
    assert smtp_server.messages[0]["Subject"] == "Dein Beziehungs-Überblick — 2026-11-23"


def test_login_with_configured_secret(smtp_auth_server: SmtpServer) -> None:
    cfg = smtp_config(smtp_auth_server, username=USER, password=PASSWORD,
                      **{"from": "ana@example.org"})  # fmt: skip
    send(cfg)
    assert len(smtp_auth_server.messages) == 1


def test_login_refused(smtp_auth_server: SmtpServer) -> None:
    cfg = smtp_config(smtp_auth_server, username=USER, password="wrong",
                      **{"from": "ana@example.org"})  # fmt: skip
    with pytest.raises(OperationError, match=rf"127\.0\.0\.1:{smtp_auth_server.port}.*535"):
        send(cfg)
    assert smtp_auth_server.messages == []


def test_oauth2_token_command_logs_in_with_xoauth2(smtp_oauth2_server: SmtpServer) -> None:
    cfg = smtp_config(smtp_oauth2_server, username=USER, oauth2_token_command=f"echo {TOKEN}",
                      **{"from": "ana@example.org"})  # fmt: skip
    send(cfg)
    assert len(smtp_oauth2_server.messages) == 1
    stale = smtp_config(smtp_oauth2_server, username=USER, oauth2_token_command="printf tok%s 123",
                        **{"from": "ana@example.org"})  # fmt: skip
    with pytest.raises(OperationError, match="refused the login") as err:
        send(stale)
    assert "tok123" not in str(err.value)  # the token the command printed
    assert len(smtp_oauth2_server.messages) == 1


def test_oauth2_where_the_server_offers_no_xoauth2(smtp_auth_server: SmtpServer) -> None:
    cfg = smtp_config(smtp_auth_server, username=USER, oauth2_token_command=f"echo {TOKEN}",
                      **{"from": "ana@example.org"})  # fmt: skip
    with pytest.raises(OperationError, match="does not offer AUTH XOAUTH2"):
        send(cfg)


def test_recipient_refused(smtp_refusing_server: SmtpServer) -> None:
    with pytest.raises(OperationError, match=r"refused ana@example\.org: 550 5\.7\.1 Relaying"):
        send(smtp_config(smtp_refusing_server))


def test_server_down() -> None:
    down = SmtpServer("127.0.0.1", free_port())
    with pytest.raises(OperationError, match=rf"cannot reach SMTP server 127\.0\.0\.1:{down.port}"):
        send(smtp_config(down))


def test_implicit_tls_verified_with_ca_file(smtp_tls_server: SmtpServer) -> None:
    send(smtp_config(smtp_tls_server, "ssl", ca_file=smtp_tls_server.ca_file))
    assert len(smtp_tls_server.messages) == 1


def test_starttls_verified_with_ca_file(smtp_starttls_server: SmtpServer) -> None:
    send(smtp_config(smtp_starttls_server, "starttls", ca_file=smtp_starttls_server.ca_file))
    assert len(smtp_starttls_server.messages) == 1


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_untrusted_certificate_is_refused(
    security: str, smtp_tls_server: SmtpServer, smtp_starttls_server: SmtpServer
) -> None:
    server = smtp_tls_server if security == "ssl" else smtp_starttls_server
    with pytest.raises(OperationError, match="certificate not trusted"):
        send(smtp_config(server, security))
    assert server.messages == []


def test_plain_client_against_server_requiring_starttls(smtp_starttls_server: SmtpServer) -> None:
    with pytest.raises(OperationError, match="530"):
        send(smtp_config(smtp_starttls_server, "none"))


def test_starttls_not_offered_never_falls_back(smtp_server: SmtpServer) -> None:
    with pytest.raises(OperationError, match="STARTTLS"):
        send(smtp_config(smtp_server, "starttls"))
    assert smtp_server.messages == []


def test_unreadable_ca_file_is_a_config_error(smtp_tls_server: SmtpServer) -> None:
    with pytest.raises(UserError, match="ca_file"):
        send(smtp_config(smtp_tls_server, "ssl", ca_file="/nonexistent/ca.pem"))


def test_plain_to_a_remote_host_is_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    down = SmtpServer("192.0.2.1", 25)  # TEST-NET-1: never routed
    smtp = {"host": down.host, "port": 25, "security": "none", "timeout": 0.2}
    cfg = config(digest={"to": "ana@example.org"}, smtp=smtp)
    with pytest.raises(OperationError):
        send(cfg)
    warnings = [r.getMessage() for r in caplog.records if "clear text" in r.getMessage()]
    assert warnings == [
        "<config>: [smtp] security = 'none' sends the digest and your password to 192.0.2.1 "
        "in clear text; "
        "use TLS unless this network is yours alone"
    ]


def test_envelope_needs_smtp_and_recipient() -> None:
    with pytest.raises(UserError, match=r"\[smtp\]"):
        mailer.envelope(config(digest={"to": "ana@example.org"}))
    with pytest.raises(UserError, match=r"\[digest\] to"):
        mailer.envelope(config(smtp={"host": "localhost"}))


def test_sender_falls_back_to_username_then_recipient() -> None:
    smtp = {"host": "localhost", "username": "ana@smtp.example"}
    assert mailer.envelope(config(digest={"to": "a@x.org"}, smtp=smtp)).sender == "ana@smtp.example"
    assert mailer.envelope(config(digest={"to": "a@x.org"}, smtp={"host": "h"})).sender == "a@x.org"
    with pytest.raises(UserError, match="from"):
        mailer.envelope(config(digest={"to": "a@x.org"}, smtp={"host": "h", "username": "ana"}))


def test_headers_are_ascii_with_encoded_non_ascii_names(smtp_server: SmtpServer) -> None:
    me = {"name": 'Zoë "Zo" Müller', "emails": ["zoe@example.org"], "timezone": "Europe/Berlin"}
    smtp = {"host": smtp_server.host, "port": smtp_server.port, "security": "none"}
    cfg = config(me=me, digest={"to": "zoe@example.org"}, smtp=smtp)
    env = mailer.envelope(cfg)
    built = mailer.build_message(env, "Dein Beziehungs-Überblick — 2026-11-23", PARTS, NOW)
    head, _, body = built.as_bytes().partition(b"\n\n")
    head.decode("ascii")  # RFC 5322 headers: 7-bit, non-ASCII as RFC 2047 encoded words
    assert b"=?utf-8?" in head
    assert max(len(line) for line in built.as_bytes().splitlines()) <= 78  # quoted-printable
    body.decode("ascii")  # no 8BITMIME needed
    mailer.send(env, built)
    [msg] = smtp_server.messages
    assert msg["To"].addresses[0].display_name == 'Zoë "Zo" Müller'
    assert msg["To"].addresses[0].addr_spec == "zoe@example.org"
    assert msg["Subject"] == "Dein Beziehungs-Überblick — 2026-11-23"
    assert msg["Date"].datetime == NOW and msg["Message-ID"].endswith("@example.org>")
    assert lf(part_text(msg, "html")) == PARTS[1][1]


@pytest.mark.parametrize("password", [PASSWORD, "hunter2-wrong"])
def test_the_password_is_never_logged_or_shown(
    password: str,
    smtp_auth_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = smtp_config(smtp_auth_server, username=USER, password=password,
                      **{"from": "ana@example.org"})  # fmt: skip
    try:
        send(cfg)
        shown = ""
    except OperationError as exc:
        shown = str(exc)
    assert (shown == "") == (password == PASSWORD)
    assert password not in caplog.text and password not in shown
    assert password not in "".join(capfd.readouterr())
    assert password not in repr(cfg.smtp)
