"""Explicit registries: the connector names are part of the config contract."""

from __future__ import annotations

from connectors import REGISTRY


def test_connector_registry_is_pinned() -> None:
    assert sorted(REGISTRY) == ["caldav", "ics", "imap", "maildir"]
    for name, cls in REGISTRY.items():
        assert name == cls.NAME
        assert callable(cls.sync) and callable(cls.check)
