"""Explicit registries: the connector names are part of the config contract."""

from __future__ import annotations

from connectors import MODULES, connector_class


def test_connector_registry_is_pinned() -> None:
    assert sorted(MODULES) == ["caldav", "carddav", "ics", "imap", "maildir", "vcard"]
    for name in MODULES:
        cls = connector_class(name)
        assert name == cls.NAME
