"""Connectors: one module per kind of source, imported when a source of that kind is used.

Lazy because every command starts a process: the CalDAV client alone (caldav, niquests, lxml)
costs about 0.2 s to import, which a digest from a Maildir-only setup should not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from connectors.base import Connector, Progress, no_progress

if TYPE_CHECKING:
    from agent.config.settings import MeConfig, SourceConfig

# config type -> (module, class); each class declares the same NAME.
MODULES: dict[str, tuple[str, str]] = {
    "imap": ("connectors.mail.imap", "ImapConnector"),
    "maildir": ("connectors.mail.maildir", "MaildirConnector"),
    "ics": ("connectors.calendar.ics", "IcsConnector"),
    "caldav": ("connectors.calendar.caldav", "CaldavConnector"),
    "vcard": ("connectors.contacts.vdir", "VcardConnector"),
    "carddav": ("connectors.contacts.carddav", "CarddavConnector"),
}

__all__ = ["MODULES", "Connector", "Progress", "connector_class", "connector_for", "no_progress"]


def connector_class(kind: str) -> type[Connector]:
    module, name = MODULES[kind]
    cls: type[Connector] = getattr(importlib.import_module(module), name)
    return cls


def connector_for(config: SourceConfig, me: MeConfig) -> Connector:
    """The connector instance for an [[accounts]] or [[calendars]] entry."""
    return connector_class(config.type)(config, me)
