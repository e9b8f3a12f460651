"""Connectors: one module per kind of source, registered by the NAME each declares."""

from __future__ import annotations

from typing import Any

from connectors.base import Connector, Progress, no_progress
from connectors.caldav import CaldavConnector
from connectors.ics import IcsConnector
from connectors.imap import ImapConnector
from connectors.maildir import MaildirConnector

REGISTRY: dict[str, type[Any]] = {
    cls.NAME: cls for cls in (ImapConnector, MaildirConnector, IcsConnector, CaldavConnector)
}

__all__ = ["REGISTRY", "Connector", "Progress", "connector_for", "no_progress"]


def connector_for(config: Any, me: Any) -> Connector:
    """The connector instance for an [[accounts]] or [[calendars]] entry."""
    return REGISTRY[config.type](config, me)  # type: ignore[no-any-return]
