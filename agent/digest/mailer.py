"""Build the digest e-mail and send it by SMTP ([smtp] and [digest] in the config).

SSL and STARTTLS always verify the server's certificate (system CAs plus [smtp] ca_file);
"none" sends in the clear and is meant for a relay on loopback. Every failure becomes an
OperationError naming host:port and what the server said, so the CLI exits 1.
"""

from __future__ import annotations

import logging
import secrets as tokens
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from agent.config import secrets
from agent.config.settings import Config, SmtpConfig
from agent.errors import OperationError, UserError
from connectors import net

log = logging.getLogger(__name__)

SENDER_NAME = "Relationship agent"


@dataclass(frozen=True)
class Envelope:
    """Who a digest goes from and to, checked before any data is loaded or sent."""

    smtp: SmtpConfig
    sender: str
    recipient: str
    recipient_name: str = ""  # [me] name, shown in To
    sender_name: str = SENDER_NAME


def envelope(config: Config) -> Envelope:
    """The SMTP settings, sender and recipient. Raises UserError when [smtp] or [digest] to
    is missing. Sender: [smtp] from, else [smtp] username, else [digest] to."""
    if config.smtp is None:
        raise UserError("sending the digest needs an [smtp] table in the config")
    if not config.digest.to:
        raise UserError("sending the digest needs [digest] to = the address to send it to")
    sender = config.smtp.sender or config.smtp.username or config.digest.to
    if "@" not in sender:
        raise UserError(f"[smtp] from: {sender!r} is not an e-mail address")
    return Envelope(config.smtp, sender, config.digest.to, " ".join(config.me.name.split()))


def new_message_id(env: Envelope) -> str:
    """An unguessable Message-ID: a reply counts only when it answers a digest the agent sent."""
    return f"<digest.{tokens.token_urlsafe(18)}@{env.sender.rsplit('@', 1)[1]}>"


def build_message(
    env: Envelope,
    subject: str,
    parts: list[tuple[str, str]],
    now: datetime,
    message_id: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message; ``parts`` are (subtype, body), least preferred first
    (RFC 2046: clients show the last part they can display)."""
    msg = EmailMessage()
    # Address objects quote and RFC 2047-encode display names ("Ana Müller" <ana@...>).
    msg["From"] = _address(env.sender_name, env.sender)
    msg["To"] = _address(env.recipient_name, env.recipient)
    msg["Subject"] = " ".join(subject.split())
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id or new_message_id(env)
    # The agent drops auto-submitted mail when it syncs: it never counts its own digests.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"  # no out-of-office replies to a digest
    # Quoted-printable keeps every line 7-bit and short: no server has to support 8BITMIME.
    (first_type, first_body), *rest = parts
    msg.set_content(first_body, subtype=first_type, cte="quoted-printable")
    for subtype, body in rest:
        msg.add_alternative(body, subtype=subtype, cte="quoted-printable")
    return msg


def _address(name: str, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=" ".join(name.split()), username=local, domain=domain)


def send(env: Envelope, msg: EmailMessage) -> str:
    """Send ``msg`` to the envelope recipient; return its Message-ID. Raises OperationError."""
    smtp = env.smtp
    where = f"{smtp.host}:{smtp.port}"
    password = secrets.resolve(smtp.secret) if smtp.username and smtp.secret else None
    try:
        with _connect(smtp) as client:
            if password is not None:
                _login(client, smtp, password)
            client.send_message(msg, from_addr=env.sender, to_addrs=[env.recipient])
    except smtplib.SMTPAuthenticationError as exc:
        raise OperationError(
            f"SMTP server {where} refused the login of {smtp.username!r}: {_reply(exc)}"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        replies = "; ".join(_code_text(code, text) for code, text in exc.recipients.values())
        raise OperationError(f"SMTP server {where} refused {env.recipient}: {replies}") from None
    except smtplib.SMTPResponseException as exc:
        raise OperationError(f"SMTP server {where} refused the digest: {_reply(exc)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise OperationError(f"SMTP server {where}: {exc}") from None
    except smtplib.SMTPException as exc:
        raise OperationError(f"SMTP server {where} failed: {exc}") from None
    except ssl.SSLError as exc:
        raise OperationError(f"TLS with SMTP server {where} failed: {_tls_reason(exc)}") from None
    except OSError as exc:
        raise OperationError(f"cannot reach SMTP server {where}: {_os_reason(exc)}") from None
    return str(msg["Message-ID"])


def _login(client: smtplib.SMTP, smtp: SmtpConfig, secret: str) -> None:
    if smtp.secret is None or smtp.secret.purpose != secrets.OAUTH2_TOKEN:
        client.login(smtp.username, secret)
        return
    # XOAUTH2 (Gmail, Microsoft 365): one initial response, no challenge expected.
    client.ehlo_or_helo_if_needed()
    if "xoauth2" not in client.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPNotSupportedError("the server does not offer AUTH XOAUTH2")
    token = f"user={smtp.username}\x01auth=Bearer {secret}\x01\x01"
    client.auth("XOAUTH2", lambda challenge=None: token, initial_response_ok=True)


def _connect(smtp: SmtpConfig) -> smtplib.SMTP:
    if smtp.security == "ssl":
        return smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout, context=_tls_context(smtp)
        )
    client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    if smtp.security == "starttls":
        try:
            client.starttls(context=_tls_context(smtp))
        except BaseException:
            client.close()
            raise
    return client


def _tls_context(smtp: SmtpConfig) -> ssl.SSLContext:
    return net.tls_context("smtp", smtp.ca_file)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _code_text(exc.smtp_code, exc.smtp_error)


def _code_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"


def _tls_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        hint = "set [smtp] ca_file for a private CA"
        return f"certificate not trusted ({exc.verify_message}); {hint}"
    return exc.reason or str(exc)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return exc.strerror or str(exc)
