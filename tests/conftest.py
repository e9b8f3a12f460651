"""Fixtures for real servers live in tests/servers/; each module is a pytest plugin."""

pytest_plugins = [
    "tests.servers.courier",
    "tests.servers.cyrus",
    "tests.servers.dovecot",
    "tests.servers.postgres",
    "tests.servers.radicale",
    "tests.servers.smtp",
]
