"""Identity: which addresses are me, which are ignored, which belong to the same person.

Pure: built from the config and the mailing-list addresses the store has seen. A configured
[[people]] entry merges its addresses under its first address (the canonical key); any other
address is a person of its own.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from agent.config.settings import Config, PersonConfig
from agent.core.aliases import Alias
from agent.core.model import Card, Effects, PartialDate


@dataclass(frozen=True)
class Profile:
    """What config or an address book says about a person: name, tags, the cadence that
    applies, and the dates that matter (from the address book)."""

    canonical: str
    name: str
    emails: tuple[str, ...]
    tags: tuple[str, ...]
    cadence: timedelta | None
    birthday: PartialDate | None = None
    anniversary: PartialDate | None = None
    source: str = "config"  # "config" ([[people]]) or "address book"


class Identity:
    def __init__(
        self,
        config: Config,
        lists: Iterable[str] = (),
        aliases: Iterable[Alias] = (),
        cards: Iterable[Card] = (),
        decided: Effects | None = None,
    ) -> None:
        self.me = frozenset(e.lower() for e in config.me.emails)
        # A list's own address receives my posts but never answers as itself: not a person.
        self._lists = frozenset(lists)
        self._patterns = config.ignore.addresses
        self._domains = config.ignore.domains
        self._cadence_by_tag = config.cadence
        self._canonical: dict[str, str] = {}
        self._memo: dict[str, str | None] = {}
        self._profiles: dict[str, PersonConfig] = {}
        for person in config.people:
            if not person.emails:
                continue
            canonical = person.emails[0]
            self._profiles[canonical] = person
            for email in person.emails:
                self._canonical.setdefault(email, canonical)
        # The user's decisions, after [[people]] and before the address book.
        self._decided = decided or Effects()
        self._redirect: dict[str, str] = {}
        for into, other in self._decided.merges:
            target = self._redirect.get(into, self._canonical.get(into, into))
            if other != target:
                self._redirect[other] = target
                self._canonical.setdefault(other, target)
        self._merged_into: dict[str, list[str]] = {}  # target -> addresses merged into it
        for other, target in self._redirect.items():
            self._merged_into.setdefault(target, []).append(other)
        self._forgotten = frozenset(self._decided.forgotten)
        # Address book cards, after [[people]] (which wins) and before names from mail.
        self._cards: dict[str, list[Card]] = {}
        for card in cards:
            self._add_card(card)
        # Addresses merged by name (agent/core/aliases.py), after [[people]], which always wins.
        self._merged: dict[str, list[Alias]] = {}
        for alias in aliases:
            if (
                alias.email in self._canonical
                or alias.email in self.me
                or self.ignored(alias.email)
            ):
                continue
            target = self._canonical.get(alias.canonical, alias.canonical)
            self._canonical[alias.email] = target
            self._merged.setdefault(target, []).append(alias)

    def _add_card(self, card: Card) -> None:
        """A card is one person with all its addresses; a card naming one of mine is me."""
        emails = [e for e in card.emails if e]
        if not emails or any(e in self.me for e in emails):
            return
        target = next((self._canonical[e] for e in emails if e in self._canonical), emails[0])
        self._cards.setdefault(target, []).append(card)
        for email in emails:
            self._canonical.setdefault(email, target)

    def contacts(self) -> tuple[str, ...]:
        """Canonical keys of everyone in an address book."""
        return tuple(self._cards)

    def merged(self, canonical: str) -> tuple[Alias, ...]:
        """The addresses merged into this person by name, with the reason."""
        return tuple(self._merged.get(canonical, ()))

    def configured(self) -> dict[str, str]:
        """Address -> canonical for every address of a [[people]] entry or a card."""
        return {e: c for e, c in self._canonical.items() if c in self._profiles or c in self._cards}

    def is_me(self, email: str) -> bool:
        return email in self.me

    def ignored(self, email: str) -> bool:
        """True for [ignore] matches and no-reply style addresses: never people."""
        if email in self._canonical:
            return False  # configured explicitly: the user wants this one
        if email in self._lists:
            return True
        domain = email.rsplit("@", 1)[-1]
        if any(domain == d or domain.endswith("." + d) for d in self._domains):
            return True
        if any(fnmatch.fnmatchcase(email, p) for p in self._patterns):
            return True
        return is_noreply(email)

    def exclusion(self, email: str) -> str | None:
        """Why an address is not a person, in words, or None when it is one."""
        email = email.lower()
        if email in self.me:
            return "it is one of your addresses ([me] emails)"
        person = self._redirect.get(self._canonical.get(email, email), email)
        forgot = self._decided.forgotten.get(person) or self._decided.forgotten.get(email)
        if forgot is not None:
            when = f" on {forgot.made_at:%Y-%m-%d}" if forgot.made_at else ""
            why = f": {forgot.note}" if forgot.note else ""
            return f"you said it is not a relationship (agent forget{when}){why}"
        if email in self._canonical:
            return None
        if email in self._lists:
            return "it is a mailing list's own address (List-Post / List-Id)"
        domain = email.rsplit("@", 1)[-1]
        if any(domain == d or domain.endswith("." + d) for d in self._domains):
            return f"its domain is in [ignore] domains ({domain})"
        for pattern in self._patterns:
            if fnmatch.fnmatchcase(email, pattern):
                return f"it matches [ignore] addresses {pattern!r}"
        if is_noreply(email):
            return "it is a no-reply or machine address"
        return None

    def canonical(self, email: str) -> str | None:
        """The person key for an address, or None when it is me or not a person."""
        # Memoised: a digest asks about every recipient of every message, a few thousand
        # distinct addresses tens of thousands of times, and glob matching is not free.
        try:
            return self._memo[email]
        except KeyError:
            pass
        found = (
            None if email in self.me or self.ignored(email) else self._canonical.get(email, email)
        )
        if found is not None:
            found = self._redirect.get(found, found)
            if found in self._forgotten or email in self._forgotten:
                found = None
        self._memo[email] = found
        return found

    def profile(self, canonical: str) -> Profile | None:
        """Precedence: [[people]] in config, then the address book (cards add addresses,
        tags and dates to a configured person, never another name)."""
        person = self._profiles.get(canonical)
        cards = self._cards.get(canonical, [])
        d = self._decided
        decided = any(canonical in m for m in (d.tags, d.untags, d.cadence, d.names))
        if person is None and not cards and not decided:
            return None
        emails = (
            *(e for card in cards for e in card.emails if self._canonical.get(e) == canonical),
            *self._merged_into.get(canonical, ()),
        )
        removed = d.untags.get(canonical, set())
        tags = tuple(t for t in dict.fromkeys((*(person.tags if person else ()),
                                               *d.tags.get(canonical, ()),
                                               *(t for card in cards for t in card.categories)))
                     if t not in removed)  # fmt: skip
        own = person.cadence if person and person.cadence else d.cadence.get(canonical)
        return Profile(
            canonical=canonical,
            name=person.name if person else cards[0].name if cards else d.names.get(canonical, ""),
            emails=tuple(dict.fromkeys((*(person.emails if person else ()), canonical, *emails))),
            tags=tags,
            cadence=self._cadence(own, tags),
            birthday=next((c.birthday for c in cards if c.birthday), None),
            anniversary=next((c.anniversary for c in cards if c.anniversary), None),
            source="config" if person else "address book" if cards else "decisions",
        )

    def cadence_for(self, person: PersonConfig) -> timedelta | None:
        """The person's own cadence, else the shortest cadence of their tags."""
        return self._cadence(person.cadence, person.tags)

    def _cadence(self, own: timedelta | None, tags: Iterable[str]) -> timedelta | None:
        if own is not None:
            return own
        by_tag = [self._cadence_by_tag[t] for t in tags if t in self._cadence_by_tag]
        return min(by_tag) if by_tag else None


_NOREPLY = re.compile(
    r"(^|[-_.+=])(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?|"
    r"notifications?|auto[-_.]?reply|automailer)([-_.+=]|$)|noreply|donotreply"
)

# Local parts only machines make: VERP (bounce+user=example.org@), a long run of digits, a
# long hexadecimal token: rotating sender addresses of shops and ticket systems.
_MACHINE_LOCAL = re.compile(r"=|\d{8,}|(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{16,}")


def is_noreply(email: str) -> bool:
    """True for no-reply style and machine senders: noreply@, mailer-daemon@, bounces+x@,
    VERP and rotating addresses (``msg-8f3a9c2e1b7d4e60@``, ``order=20261120123456@``)."""
    local = email.split("@", 1)[0].lower()
    return bool(_NOREPLY.search(local) or _MACHINE_LOCAL.search(local))
