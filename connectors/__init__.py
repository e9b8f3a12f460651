"""Connectors: one module per kind of source, imported when a source of that kind is used.

Lazy because every command starts a process: the CalDAV client alone (caldav, niquests, lxml)
costs about 0.2 s to import, which a digest from a Maildir-only setup should not pay.
"""

from __future__ import annotations

import importlib
from typing import Any

from connectors.base import Connector, Progress, no_progress

# config type -> (module, class); each class declares the same NAME.
MODULES: dict[str, tuple[str, str]] = {
    "imap": ("connectors.mail.imap", "ImapConnector"),
    "maildir": ("connectors.mail.maildir", "MaildirConnector"),
    "ics": ("connectors.calendar.ics", "IcsConnector"),
    "caldav": ("connectors.calendar.caldav", "CaldavConnector"),
}

__all__ = ["MODULES", "Connector", "Progress", "connector_class", "connector_for", "no_progress"]


def connector_class(kind: str) -> type[Any]:
    module, name = MODULES[kind]
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def connector_for(config: Any, me: Any) -> Connector:
    """The connector instance for an [[accounts]] or [[calendars]] entry."""
    return connector_class(config.type)(config, me)  # type: ignore[no-any-return]
