"""One person, several addresses: merge the addresses that share a full display name.

People write from work and home, from an old employer's address and a new one, and Exchange
shows the same colleague as ``bob@corp.example`` and as an X.500 form
(``IMCEAEX-_O=CORP_OU=..._CN=BMEYER@corp.example``). Each would be a person of its own, each
with half the history, and half a history looks like a fading or one-sided tie.

A name merges only when it is a full name (two words or more, each with a letter) and not a
role ("Support Team", "Customer Service"): first names alone and role names are shared by
strangers. Addresses of [[people]] entries are never merged into another entry, so the user
can keep two people apart by listing them. Pure: names and counts in, a mapping out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Words that make a display name a role or a system, not one human.
ROLE_WORDS = frozenset(
    [
        "support",
        "team",
        "service",
        "services",
        "info",
        "information",
        "sales",
        "billing",
        "customer",
        "customers",
        "help",
        "desk",
        "helpdesk",
        "admin",
        "administrator",
        "office",
        "noreply",
        "no-reply",
        "newsletter",
        "news",
        "marketing",
        "group",
        "department",
        "hr",
        "accounts",
        "accounting",
        "payroll",
        "notifications",
        "notification",
        "reservations",
        "booking",
        "bookings",
        "orders",
        "order",
        "club",
        "committee",
        "board",
        "staff",
        "system",
        "systems",
        "mailer",
        "daemon",
        "postmaster",
        "webmaster",
        "feedback",
        "contact",
        "hello",
        "careers",
        "jobs",
        "recruiting",
        "press",
        "media",
        "security",
        "alerts",
        "alert",
        "updates",
        "update",
        "events",
        "shop",
        "store",
        "travel",
        "tickets",
        "ticket",
        "bank",
        "the",
        "via",
        "kundenservice",
        "kundendienst",
        "servicio",
        "atención",
        "atencion",
        "clienti",
        "assistenza",
        "equipe",
        "équipe",
    ]
)
_LETTER = re.compile(r"[^\W\d_]")
_X500 = "imceaex-"


@dataclass(frozen=True)
class Alias:
    """``email`` is the same person as ``canonical`` because of ``reason``."""

    email: str
    canonical: str
    reason: str


def full_name(name: str | None) -> str | None:
    """The comparable form of a display name that names one human, or None.

    ``full_name("Meyer, Bob")`` == ``full_name("bob  MEYER")`` == ``"bob meyer"``;
    ``full_name("Bob")`` and ``full_name("Support Team")`` are None.
    """
    if not name or "@" in name:
        return None
    text = unicodedata.normalize("NFKC", name).strip().strip("'\"").strip()
    if "," in text:  # "Last, First" as Outlook and Exchange write it
        last, _, first = text.partition(",")
        text = f"{first} {last}"
    words = [w.strip(".()'\"") for w in text.casefold().split()]
    words = [w for w in words if w]
    if len(words) < 2 or not all(_LETTER.search(w) for w in words):
        return None
    if any(w in ROLE_WORDS for w in words):
        return None
    return " ".join(sorted(words))


def find_aliases(
    named: Iterable[tuple[str, str | None, int]],
    me: frozenset[str],
    configured: Mapping[str, str],
) -> dict[str, Alias]:
    """Address -> Alias for every address merged into another.

    ``named`` holds (address, display name, messages seen with that name); ``configured`` maps
    the addresses of [[people]] entries to their canonical address.
    """
    by_name: dict[str, dict[str, int]] = {}
    shown: dict[str, str] = {}
    for email, name, count in named:
        key = full_name(name)
        if key is None or email in me:
            continue
        counts = by_name.setdefault(key, {})
        counts[email] = counts.get(email, 0) + count
        shown.setdefault(key, (name or "").strip())
    out: dict[str, Alias] = {}
    for key, counts in by_name.items():
        if len(counts) > 1:
            out.update(_merge(counts, configured, f"same name {shown[key]!r}"))
    return out


def _merge(counts: dict[str, int], configured: Mapping[str, str], reason: str) -> dict[str, Alias]:
    entries = {configured[e] for e in counts if e in configured}
    if len(entries) > 1:
        return {}  # two [[people]] entries: the user keeps them apart
    if entries:
        canonical = entries.pop()
    else:
        # The address used most, an ordinary one before an X.500 form.
        canonical = min(counts, key=lambda e: (e.startswith(_X500), -counts[e], e))
    return {
        email: Alias(email, canonical, reason)
        for email in counts
        if email != canonical and email not in configured
    }
