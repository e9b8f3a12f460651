"""Mail providers' published IMAP and SMTP settings, for `agent init`.

Each entry is what the provider documents for third-party mail clients. ``login`` says what
a password means there: most large providers refuse the account password over IMAP and want
an app password or an OAuth2 token, and `agent init` says so before it asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.config.settings import Security


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: Security


@dataclass(frozen=True)
class Provider:
    key: str
    name: str
    imap: Server
    smtp: Server
    domains: tuple[str, ...]
    login: Literal["app-password", "oauth2", "password"] = "password"


def _ssl(host: str) -> Server:
    return Server(host, 993, "ssl")


def _smtps(host: str) -> Server:
    return Server(host, 465, "ssl")


def _submission(host: str) -> Server:
    return Server(host, 587, "starttls")


PROVIDERS: tuple[Provider, ...] = (
    Provider("gmail", "Gmail / Google Workspace", _ssl("imap.gmail.com"),
             _smtps("smtp.gmail.com"), ("gmail.com", "googlemail.com"), "app-password"),
    Provider("outlook", "Outlook.com / Microsoft 365", _ssl("outlook.office365.com"),
             _submission("smtp.office365.com"),
             ("outlook.com", "hotmail.com", "live.com", "msn.com"), "oauth2"),
    Provider("icloud", "iCloud Mail", _ssl("imap.mail.me.com"), _submission("smtp.mail.me.com"),
             ("icloud.com", "me.com", "mac.com"), "app-password"),
    Provider("fastmail", "Fastmail", _ssl("imap.fastmail.com"), _smtps("smtp.fastmail.com"),
             ("fastmail.com", "fastmail.fm"), "app-password"),
    Provider("yahoo", "Yahoo Mail", _ssl("imap.mail.yahoo.com"), _smtps("smtp.mail.yahoo.com"),
             ("yahoo.com", "ymail.com"), "app-password"),
    Provider("gmx", "GMX", _ssl("imap.gmx.net"), _submission("mail.gmx.net"),
             ("gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.com")),
    Provider("webde", "WEB.DE", _ssl("imap.web.de"), _submission("smtp.web.de"), ("web.de",)),
    Provider("posteo", "Posteo", _ssl("posteo.de"), _smtps("posteo.de"),
             ("posteo.de", "posteo.net")),
    Provider("mailbox.org", "mailbox.org", _ssl("imap.mailbox.org"), _smtps("smtp.mailbox.org"),
             ("mailbox.org",)),
)  # fmt: skip
BY_KEY = {p.key: p for p in PROVIDERS}
# Besides the providers: a server of one's own ("custom") or a local Maildir.
KINDS = (*BY_KEY, "custom", "maildir")

LOGIN_HINTS = {
    "app-password": "{name} wants an app password for mail programs (made in its account "
    "settings), not your account password",
    "oauth2": "{name} usually refuses passwords over IMAP: give a command that prints an "
    "OAuth2 access token (e.g. oama, or mutt_oauth2.py)",
    "password": "",
}


def guess(email: str) -> str:
    """The provider an address's domain belongs to, else "custom"."""
    domain = email.rsplit("@", 1)[-1].lower()
    return next((p.key for p in PROVIDERS if domain in p.domains), "custom")
