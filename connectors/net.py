"""One policy for every connection we open: IMAP, calendar feeds, CalDAV and SMTP alike.

TLS is always verified against the system's CAs; ``ca_file`` only adds a CA (a self-hosted
server's), it never switches checks off. A ``ca_file`` value is a path with ``~`` and
``$VARIABLES`` expanded, the same as every other path in the config. Clear text is allowed
only as a choice the user made, and is worth a warning unless the peer is this machine.
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING

from agent.errors import UserError

if TYPE_CHECKING:  # imported where a connection is made: the config reads this module too
    import ssl

_LOCALHOST = ("localhost", "localhost.localdomain")


def is_loopback(host: str) -> bool:
    """The host is this machine: ``localhost``, 127.0.0.0/8 or ::1 (``[::1]`` too)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name in _LOCALHOST or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def expand_path(value: str) -> str:
    """A config path as the user means it: ``~`` and ``$VARIABLES`` expanded; "" stays ""."""
    return os.path.expanduser(os.path.expandvars(value)) if value else ""


def tls_context(table: str, ca_file: str = "") -> ssl.SSLContext:
    """A verifying client context; ``ca_file`` adds the CA bundle a self-hosted server needs.

    ``table`` names the config table in the error (``accounts.work``, ``smtp``): an unreadable
    or malformed CA file is the user's to fix, so it is a UserError, never "verification off".
    """
    import ssl

    context = ssl.create_default_context()
    path = expand_path(ca_file)
    if path:
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise UserError(f"[{table}] ca_file: cannot load {path}: {reason(exc)}") from None
    return context


def ca_bundle(table: str, ca_file: str) -> str:
    """The expanded ``ca_file`` path for libraries that take a path (caldav), checked the same
    way ``tls_context`` checks it; "" when none is set."""
    if ca_file:
        tls_context(table, ca_file)
    return expand_path(ca_file)


def clear_text_warning(table: str, setting: str, host: str, what: str) -> str | None:
    """The warning for a ``setting`` that sends ``what`` to ``host`` unencrypted; None when
    the host is this machine."""
    if not host or is_loopback(host):
        return None
    return (
        f"[{table}] {setting} sends {what} to {host} in clear text; "
        "use TLS unless this network is yours alone"
    )


def reason(exc: BaseException) -> str:
    """An OS or SSL error in a few words (the OS's own text where there is one)."""
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, ssl.SSLError):
        return exc.strerror
    return str(exc) or type(exc).__name__
