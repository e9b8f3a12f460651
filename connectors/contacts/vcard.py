"""vCard text -> one Card per contact. Pure: no I/O.

vobject reads the cards; what it cannot take from real exports is mended first: a byte
order mark, UTF-16 (Google's and Outlook's exports), vCard 2.1 quoted-printable soft line
breaks and CHARSET parameters. Each card is read on its own, so one broken card is one
warning naming it, and the rest of the file still counts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import quopri
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import vobject

from agent.core.model import Card, PartialDate

# vobject logs every line it skips at ERROR: the caller warns once per card instead.
for _logger in ("vobject", "vobject.base"):
    logging.getLogger(_logger).setLevel(logging.CRITICAL)

MAX_CARDS = 100_000  # per file: an address book, not a denial of service
_CARD = re.compile(r"^BEGIN:VCARD\s*$.*?^END:VCARD\s*$", re.IGNORECASE | re.MULTILINE | re.DOTALL)
_QP_SOFT_BREAK = re.compile(r"=\r?\n")
_QP_LINE = re.compile(r"^([^:\r\n]*ENCODING=QUOTED-PRINTABLE[^:\r\n]*):(.*)$", re.IGNORECASE | re.M)
_DATE = re.compile(r"^(?:(\d{4})|--)-?(\d{2})-?(\d{2})")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass
class Parsed:
    cards: list[Card] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Group cards (vCard 4 KIND:group, Apple's X-ADDRESSBOOKSERVER-KIND:group): name -> the
    # UIDs of their members. with_groups() turns them into the members' tags.
    groups: dict[str, list[str]] = field(default_factory=dict)


def decode(raw: bytes) -> str:
    """vCard bytes as text: UTF-8 (with or without a BOM), UTF-16 by its BOM, else Latin-1."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", "replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse(raw: bytes, where: str) -> Parsed:
    """Every card in ``raw``; ``where`` (a file, a URL) names the source in warnings."""
    out = Parsed()
    text = decode(raw).replace("\r\n", "\n").replace("\r", "\n")
    for number, match in enumerate(_CARD.finditer(text), 1):
        if number > MAX_CARDS:
            out.warnings.append(f"{where}: more than {MAX_CARDS} cards; the rest ignored")
            break
        chunk = _mend(match.group(0))
        try:
            component = vobject.readOne(chunk, ignoreUnreadable=True)
            if _group(component, out.groups):
                continue
            card = _card(component, chunk)
        except Exception as exc:  # noqa: BLE001  vobject raises anything on a broken card
            out.warnings.append(
                f"{where}: card {number} skipped ({type(exc).__name__}: {exc})"[:300]
            )
            continue
        if card is not None:
            out.cards.append(card)
    begun = len(re.findall(r"^BEGIN:VCARD\s*$", text, re.IGNORECASE | re.MULTILINE))
    read = sum(1 for _ in _CARD.finditer(text))
    if begun > read:
        out.warnings.append(f"{where}: {begun - read} card(s) without END:VCARD skipped")
    return out


def read_all(sources: Iterable[tuple[bytes, str]]) -> Parsed:
    """Every card of an address book given as (raw, where) pieces: files of a vdir, CardDAV
    resources. Group cards anywhere in the book tag their members wherever they are."""
    out = Parsed()
    for raw, where in sources:
        parsed = parse(raw, where)
        out.cards.extend(parsed.cards)
        out.warnings.extend(parsed.warnings)
        for name, members in parsed.groups.items():
            out.groups.setdefault(name, []).extend(members)
    out.cards = with_groups(out.cards, out.groups)
    return out


def with_groups(cards: list[Card], groups: dict[str, list[str]]) -> list[Card]:
    """Cards with the names of the groups they belong to among their tags."""
    if not groups:
        return cards
    member_of: dict[str, list[str]] = {}
    for name, members in groups.items():
        for uid in members:
            member_of.setdefault(_bare(uid), []).append(name)
    return [
        dataclasses.replace(c, categories=tuple(dict.fromkeys((*c.categories,
                                                                *member_of[_bare(c.uid)]))))
        if _bare(c.uid) in member_of else c
        for c in cards
    ]  # fmt: skip


def _group(component: object, groups: dict[str, list[str]]) -> bool:
    contents: dict[str, list[object]] = getattr(component, "contents", {})
    kinds = {v.lower() for v in (*_values(contents, "kind"),
                                 *_values(contents, "x-addressbookserver-kind"))}  # fmt: skip
    if "group" not in kinds:
        return False
    name = next((v.strip() for v in _values(contents, "fn") if v.strip()), "")
    members = [*_values(contents, "member"), *_values(contents, "x-addressbookserver-member")]
    if name:
        groups.setdefault(name.lower(), []).extend(members)
    return True


def _bare(uid: str) -> str:
    return uid.strip().lower().removeprefix("urn:uuid:")


def _mend(chunk: str) -> str:
    """vCard 2.1 quoted-printable values joined and decoded, so vobject reads them as text."""
    if "QUOTED-PRINTABLE" not in chunk.upper():
        return chunk
    chunk = _QP_SOFT_BREAK.sub("", chunk)

    def decoded(m: re.Match[str]) -> str:
        params = re.sub(r";?ENCODING=QUOTED-PRINTABLE", "", m.group(1), flags=re.IGNORECASE)
        charset = re.search(r";CHARSET=([\w-]+)", params, re.IGNORECASE)
        params = re.sub(r";CHARSET=[\w-]+", "", params, flags=re.IGNORECASE)
        value = quopri.decodestring(m.group(2).encode("latin-1", "replace"))
        encoding = charset.group(1) if charset else "utf-8"
        try:
            text = value.decode(encoding, "replace")
        except LookupError:
            text = value.decode("utf-8", "replace")
        return f"{params}:{text.replace(chr(13), '').replace(chr(10), ' ')}"

    return _QP_LINE.sub(decoded, chunk)


def _card(component: object, chunk: str) -> Card | None:
    contents: dict[str, list[object]] = getattr(component, "contents", {})
    emails = tuple(dict.fromkeys(e for e in (_email(v) for v in _values(contents, "email")) if e))
    uid = next(iter(_values(contents, "uid")), "") or _hash(chunk)
    return Card(
        uid=str(uid).strip()[:255],
        name=_name(contents, emails),
        emails=emails,
        categories=_categories(contents),
        birthday=_date(contents, "bday"),
        anniversary=_date(contents, "anniversary") or _date(contents, "x-anniversary"),
    )


def _values(contents: dict[str, list[object]], name: str) -> list[str]:
    out: list[str] = []
    for line in contents.get(name, []):
        value = getattr(line, "value", "")
        if isinstance(value, list):
            out.extend(str(v) for v in value)
        elif value is not None:
            out.append(str(value))
    return out


def _email(value: str) -> str | None:
    email = value.strip().strip("<>").removeprefix("mailto:").strip().lower()
    return email if _EMAIL.match(email) else None


def _name(contents: dict[str, list[object]], emails: tuple[str, ...]) -> str:
    fn = next((v.strip() for v in _values(contents, "fn") if v.strip()), "")
    if fn:
        return fn[:512]
    for line in contents.get("n", []):
        n = getattr(line, "value", None)
        parts = [getattr(n, k, "") for k in ("given", "additional", "family")]
        flat = " ".join(" ".join(p) if isinstance(p, list) else str(p) for p in parts if p)
        if flat.strip():
            return " ".join(flat.split())[:512]
    return emails[0] if emails else ""


def _categories(contents: dict[str, list[object]]) -> tuple[str, ...]:
    found: list[str] = []
    for value in _values(contents, "categories"):
        found.extend(t.strip() for t in value.split(",") if t.strip())
    return tuple(dict.fromkeys(t.lower() for t in found))


def _date(contents: dict[str, list[object]], name: str) -> PartialDate | None:
    for line in contents.get(name, []):
        value = str(getattr(line, "value", "")).strip()
        params = {k.upper(): v for k, v in getattr(line, "params", {}).items()}
        found = _DATE.match(value)
        if found is None:
            continue
        year = int(found.group(1)) if found.group(1) else None
        month, day = int(found.group(2)), int(found.group(3))
        if "X-APPLE-OMIT-YEAR" in params:  # Apple writes 1604 for "no year"
            year = None
        if 1 <= month <= 12 and 1 <= day <= _days_in(month):
            return PartialDate(month, day, year if year and year >= 1800 else None)
    return None


def _days_in(month: int) -> int:
    return 29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31


def _hash(chunk: str) -> str:
    return "h:" + hashlib.sha256(chunk.encode("utf-8", "surrogatepass")).hexdigest()[:24]
