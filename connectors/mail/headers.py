"""Parse the few header fields sync needs, cheaply, into a MessageMeta.

The stdlib's ``email.policy.default`` parser costs several times the IMAP fetch itself, so we
unfold and split the header block by hand and decode only the values we keep. Anything odd
(quoted names, comments, encoded words) goes through ``email.utils`` / ``email.header``.
Nothing here raises on bad input: what cannot be read is recorded in ``problems``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import UTC, datetime, timedelta
from email.errors import HeaderParseError
from email.header import decode_header
from email.utils import getaddresses, parsedate_to_datetime

from agent.core.identity import is_noreply
from agent.core.model import LIST_REASON, Address, DateSource, MessageMeta
from connectors.mail.subjects import read_subject, subject_reason, thread_index, topic

# Headers that only bulk-mail services add (Amazon SES, Mailgun, SendGrid, Mandrill,
# Mailchimp, Salesforce Marketing Cloud, the CSA whitelist): a shop or newsletter without
# List-Unsubscribe still carries one of these.
BULK_MAILER_FIELDS: tuple[str, ...] = (
    "X-SES-Outgoing", "X-Mailgun-Sid", "X-SG-EID", "X-MC-User", "X-Mailchimp-Campaign",
    "X-CSA-Complaints", "X-Campaign", "X-CampaignID", "X-SFMC-Stack",
)  # fmt: skip
_BULK_MAILER = frozenset(f.lower() for f in (*BULK_MAILER_FIELDS, "Feedback-ID"))

# The fields IMAP fetches with BODY.PEEK[HEADER.FIELDS (...)]; keep in step with parse_headers.
FIELDS: tuple[str, ...] = (
    "From", "Sender", "To", "Cc", "Bcc", "Date", "Message-ID", "In-Reply-To", "References",
    "Subject", "List-Id", "List-Post", "List-Unsubscribe", "Precedence", "Auto-Submitted",
    "Return-Path", "Content-Type", "Delivered-To", "X-Original-To", "X-Autoreply",
    "X-Autorespond", "Thread-Index", "Thread-Topic", "X-Auto-Response-Suppress", "Feedback-ID",
    "Authentication-Results",
    *BULK_MAILER_FIELDS,
)  # fmt: skip

# Fields a message may carry several times that add up (all recipients, all references); for
# every other field the first occurrence wins, as with the stdlib's ``msg[name]``.
_LIST_FIELDS = frozenset({"to", "cc", "bcc", "delivered-to", "x-original-to", "references"})
# RFC 5322 lines end in CRLF; bare LF and CR are seen in the wild, and so is CR CR LF
# (Courier-IMAP serves Maildir files stored with CRLF that way). str.splitlines() would also
# split on form feeds, U+2028 and friends that can occur inside a (decoded) header value.
_LINE_END = re.compile(r"\r*\n|\r")
_BYTE_LINE_END = re.compile(rb"\r*\n|\r")
# A field name, optional blanks (obsolete syntax, still seen), a colon, the value.
_FIELD_LINE = re.compile(r"([^\s:]+)[ \t]*:(.*)", re.DOTALL)
# One field of a clean CRLF block: a field line plus any folded continuation lines that are
# not blank (a blank line ends the block).
_CLEAN_FIELD = re.compile(r"([^\s:]+)[ \t]*:([^\r\n]*(?:\r\n[ \t](?=[^\r\n]*\S)[^\r\n]*)*)\r\n")
_MSGID = re.compile(r"<([^<>\s]+)>")
_SIMPLE_ADDR = re.compile(
    r"^\s*(?:([^<>\"(),;:\\]*?)\s*<([^<>\s\"(),;:\\]+@[^<>\s\"(),;:\\]+)>|([^<>\s\"(),;:\\]+@[^<>\s\"(),;:\\]+))\s*$"
)
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_TOKEN = re.compile(r"\s*([a-z0-9_-]+)")
_NULL_PATH = re.compile(r"\s*<\s*>")
# The Date header as nearly every client writes it ("Mon, 01 Jan 2024 10:00:00 +0100", an
# optional trailing comment); read directly, anything else goes to email.utils.
_RFC_DATE = re.compile(
    r"(?:[A-Za-z]{3},[ \t]*)?(\d{1,2})[ \t]+([A-Za-z]{3})[ \t]+(\d{4})[ \t]+(\d\d):(\d\d)"
    r"(?::(\d\d))?[ \t]+([+-])(\d\d)(\d\d)(?:[ \t]+\([^()]*\))?[ \t]*\Z"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
)}  # fmt: skip
_DAY = timedelta(days=1)
# Dates before this are placeholders (Lotus Notes and archive conversions write 1979/1980 and
# year 1), never when the message was sent; one that cannot be trusted is not counted either.
_EPOCH_FLOOR = datetime(1990, 1, 1, tzinfo=UTC)
_FUTURE_SLACK = timedelta(days=2)


def parse_headers(raw: bytes, fallback_date: datetime | None = None) -> MessageMeta:
    """Build a MessageMeta from a raw header block (bytes, any line endings, any charset).

    ``fallback_date`` (IMAP INTERNALDATE or file mtime) is used when Date is missing or
    unparseable. Example: ``parse_headers(b"From: a@x.org\\r\\nDate: ...\\r\\n\\r\\n").sender``.
    """
    fields = split_fields(raw)
    problems: list[str] = []
    date, date_source = _date(fields.get("date"), fallback_date, problems)
    sender = _first(_addresses(fields.get("from"), problems))
    if sender is None:
        sender = _first(_addresses(fields.get("sender"), problems))
    to = _addresses(fields.get("to"), problems)
    cc = _addresses(fields.get("cc"), problems)
    subject = _subject(fields, problems)
    in_reply_to = _first_id(fields.get("in-reply-to"))
    references = tuple(_MSGID.findall(fields.get("references", "")))
    conversation, index_reply = thread_index(fields.get("thread-index"))
    subject_topic, subject_reply = read_subject(subject)
    return MessageMeta(
        key=_key(fields),
        date=date,
        date_source=date_source,
        sender=sender,
        to=to,
        cc=cc,
        bcc=_addresses(fields.get("bcc"), problems),
        delivered_to=tuple(
            a.email for a in _addresses(_join(fields, "delivered-to", "x-original-to"), problems)
        ),
        in_reply_to=in_reply_to,
        references=references,
        automated=automated_reason(fields, sender, subject),
        problems=tuple(problems),
        list_address=list_address(fields, to + cc),
        topic=subject_topic if subject else topic(fields.get("thread-topic")),
        conversation=conversation,
        reply=bool(in_reply_to or references or index_reply or subject_reply),
        authenticated=authenticated(fields.get("authentication-results"), sender),
        inbound="authentication-results" in fields,
        recipients_dropped=_overflow(fields),
    )


def split_fields(raw: bytes) -> dict[str, str]:
    """Unfold a header block into {lower-case name: value}.

    Repeated address-list fields (To, Cc, Bcc, Delivered-To, X-Original-To) and References are
    joined by ', '; for any other repeated field the first occurrence wins. Lines that are not
    fields (an mbox "From " line, garbage) are skipped; the first empty line ends the block.
    Example: ``split_fields(b"From: a@x.org\\r\\n")`` == ``{"from": "a@x.org"}``.
    """
    text = _decode(raw)
    fields = _split_clean(text)
    return fields if fields is not None else _split_lines(text)


def _split_clean(text: str) -> dict[str, str] | None:
    """The fast path for a well-formed block (CRLF lines, every line a field or a folded
    continuation, ending at a blank line or the end of the text); None for anything else,
    which _split_lines then reads line by line. Both give the same result where this accepts.
    Each match is anchored where the last one ended, so the cost stays linear in the input.
    """
    fields: dict[str, str] = {}
    pos, end = 0, len(text)
    match = _CLEAN_FIELD.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            break
        pos = m.end()
        name, value = m.group(1).lower(), m.group(2)
        if "\r\n" in value:
            value = " ".join(p for p in (part.strip() for part in value.split("\r\n")) if p)
        else:
            value = value.strip()
        if name not in fields:
            fields[name] = value
        elif name in _LIST_FIELDS and value:
            fields[name] = f"{fields[name]}, {value}" if fields[name] else value
    if pos == end or (pos > 0 and text.startswith("\r\n", pos)):
        return fields
    return None


def _split_lines(text: str) -> dict[str, str]:
    lines = _LINE_END.split(text)
    fields: dict[str, list[list[str]]] = {}
    current: list[str] | None = None  # the value parts of the field being unfolded
    started = False
    for line in lines:
        if not line.strip():
            if started:
                break  # end of the header block
            continue
        started = True
        if line[0] in " \t":
            if current is not None:
                current.append(line.strip())
            continue
        match = _FIELD_LINE.match(line)
        if match is None:
            current = None
            continue
        current = [match.group(2).strip()]
        fields.setdefault(match.group(1).lower(), []).append(current)
    return {name: _combine(name, values) for name, values in fields.items()}


def _combine(name: str, values: list[list[str]]) -> str:
    unfolded = [" ".join(part for part in value if part) for value in values]
    if name in _LIST_FIELDS:
        return ", ".join(v for v in unfolded if v)
    return unfolded[0]


def _decode(raw: bytes) -> str:
    # PostgreSQL refuses NUL in text, and no header means one.
    raw = raw.replace(b"\0", b"")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # 8-bit bytes in headers: mostly latin-1 / cp1252 from old clients, line by line.
        return "\n".join(_decode_line(line) for line in _BYTE_LINE_END.split(raw))


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1252", "replace")


def _subject(fields: dict[str, str], problems: list[str]) -> str:
    raw = fields.get("subject", "")
    if "=?" not in raw:
        return raw
    return _decode_name(raw, problems)


def _join(fields: dict[str, str], *names: str) -> str | None:
    values = [fields[n] for n in names if n in fields]
    return ", ".join(values) if values else None


def _key(fields: dict[str, str]) -> str:
    mid = _first_id(fields.get("message-id"))
    if mid:
        return mid
    # Whitespace normalized: servers re-fold long headers differently.
    parts = (" ".join(fields.get(n, "").split()) for n in ("from", "to", "date", "subject"))
    basis = "\0".join(parts)
    return "h:" + hashlib.sha1(basis.encode("utf-8", "surrogatepass")).hexdigest()


def _first_id(value: str | None) -> str | None:
    if not value:
        return None
    match = _MSGID.search(value)
    if match:
        return match.group(1)
    token = value.strip().split()[0] if value.strip() else ""
    return token.strip("<>") or None


def _date(
    value: str | None, fallback: datetime | None, problems: list[str]
) -> tuple[datetime, DateSource]:
    parsed = _parse_date(value) if value else None
    if parsed is not None and _plausible(parsed):
        return parsed, "header"
    if value:
        problems.append(f"unusable Date header {value[:60]!r}")
    else:
        problems.append("no Date header")
    if fallback is not None:
        return _utc(fallback), "fallback"
    return _EPOCH_FLOOR, "none"


def _parse_date(value: str) -> datetime | None:
    fast = _RFC_DATE.match(value)
    if fast is not None:
        day, month, year, hour, minute, second, sign, hh, mm = fast.groups()
        number = _MONTHS.get(month.lower())
        if number is not None:
            try:
                local = datetime(int(year), number, int(day), int(hour), int(minute),
                                 int(second or 0), tzinfo=UTC)  # fmt: skip
            except ValueError:
                pass  # 31 Feb and friends: let the stdlib decide, as for everything odd
            else:
                offset = timedelta(hours=int(hh), minutes=int(mm))
                if offset < _DAY:  # the stdlib refuses an offset of a day or more
                    return local - offset if sign == "+" else local + offset
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    return _utc(parsed)


def _utc(value: datetime) -> datetime:
    # RFC 5322 "-0000" (and some INTERNALDATEs) come out naive: they mean UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _plausible(value: datetime) -> bool:
    return _EPOCH_FLOOR <= value <= datetime.now(UTC) + _FUTURE_SLACK


# Addresses kept per field. Mail to more people than this is mass mail whatever they are, and
# 1,000 messages with 3,000 recipients each took 1 GB; the rest are counted, not kept.
MAX_ADDRESSES = 100


def _addresses(value: str | None, problems: list[str]) -> tuple[Address, ...]:
    if not value:
        return ()
    addresses, found = _parse_addresses(value)
    problems.extend(found)
    return addresses


def _overflow(fields: dict[str, str]) -> int:
    """Recipients beyond MAX_ADDRESSES per field, counted from the raw values."""
    extra = 0
    for name in ("to", "cc", "bcc"):
        value = fields.get(name)
        if value and value.count("@") > MAX_ADDRESSES:
            extra += value.count("@") - MAX_ADDRESSES
    return extra


# The same To/Cc/From values recur across a mailbox (my own address above all): parse each
# distinct value once. Bounded, so memory stays flat however large the mailbox.
@functools.lru_cache(maxsize=8192)
def _parse_addresses(value: str) -> tuple[tuple[Address, ...], tuple[str, ...]]:
    out: list[Address] = []
    problems: list[str] = []
    seen: set[str] = set()
    for name, email in _split_addresses(value):
        if len(out) >= MAX_ADDRESSES:
            break
        email = email.strip().strip("<>").lower()
        local, _, domain = email.rpartition("@")
        if not local or not domain or email in seen or " " in email:
            continue
        seen.add(email)
        out.append(Address(email=email, name=_decode_name(name, problems)))
    return tuple(out), tuple(problems)


def _split_addresses(value: str) -> list[tuple[str, str]]:
    parts = value.split(",")
    simple = [_SIMPLE_ADDR.match(p) for p in parts if p.strip()]
    if all(simple):
        return [(m.group(1) or "", m.group(2) or m.group(3)) for m in simple if m]
    try:
        return getaddresses([value])
    except Exception:  # noqa: BLE001 - the stdlib parser has raised many types on garbage
        return []


def _decode_name(name: str, problems: list[str]) -> str:
    name = name.strip().strip('"').strip()
    if "=?" not in name:
        return name
    try:
        parts = decode_header(name)
    except (HeaderParseError, ValueError, LookupError):  # bad base64, ...
        problems.append(f"undecodable name {name[:40]!r}")
        return name
    text = "".join(_decode_word(part, charset, problems) for part, charset in parts)
    return " ".join(text.split()).strip('"')


def _decode_word(part: bytes | str, charset: str | None, problems: list[str]) -> str:
    if isinstance(part, str):
        return part
    if charset is None:
        return part.decode("raw-unicode-escape")  # how decode_header encoded the plain text
    charset = charset.split("*", 1)[0]  # RFC 2231 "utf-8*en": a language tag
    try:
        return part.decode(charset, "replace")
    except LookupError:
        problems.append(f"unknown charset {charset[:40]!r} in a name")
        return part.decode("utf-8", "replace")


def _first(addresses: tuple[Address, ...]) -> Address | None:
    return addresses[0] if addresses else None


def automated_reason(
    fields: dict[str, str], sender: Address | None, subject: str = ""
) -> str | None:
    """Why this message is not part of a relationship (list, bulk, auto-reply, ...), or None."""
    if "list-id" in fields or "list-unsubscribe" in fields:
        return LIST_REASON
    if _BULK_MAILER.intersection(fields):
        return "bulk mailer"
    precedence = _TOKEN.match(fields.get("precedence", "").lower())
    if precedence and precedence.group(1) in _BULK_PRECEDENCE:
        return "bulk precedence"
    auto = _TOKEN.match(fields.get("auto-submitted", "").lower())
    if auto and auto.group(1) != "no":  # "no", "no (comment)", "no; x=y" are a person
        return "auto-submitted"
    if _AUTO_REPLY_FIELDS.intersection(fields) or (
        precedence and precedence.group(1) in ("auto_reply", "auto-reply")
    ):
        return "auto-reply"
    by_subject = subject_reason(subject)
    if by_subject is not None:
        return by_subject
    if _NULL_PATH.match(fields.get("return-path", "")):
        return "bounce"
    if fields.get("content-type", "").strip().lower().startswith("multipart/report"):
        return "delivery report"
    if sender is not None and is_noreply(sender.email):
        return "no-reply sender"
    return None


# Exchange marks its own out-of-office and receipts with X-Auto-Response-Suppress.
_AUTO_REPLY_FIELDS = frozenset({"x-autoreply", "x-autorespond", "x-auto-response-suppress"})


_MAILTO = re.compile(r"<\s*mailto:([^?>\s]+)", re.IGNORECASE)
_LIST_ID = re.compile(r"<\s*([^<>\s]+)\s*>")


def list_address(fields: dict[str, str], recipients: tuple[Address, ...]) -> str | None:
    """The mailing list's own address: where my posts to the list go, never a person.

    List-Post names it (``<mailto:dev@lists.example.org>``). Without it, the List-Id
    ``<dev.lists.example.org>`` is read as ``dev@lists.example.org`` only when that address is
    among the recipients, the convention of Mailman, Sympa and Google Groups.
    """
    post = _MAILTO.search(fields.get("list-post", ""))
    if post:
        return post.group(1).lower()
    found = _LIST_ID.search(fields.get("list-id", ""))
    if not found or "." not in found.group(1):
        return None
    candidate = found.group(1).lower().replace(".", "@", 1)
    return candidate if any(a.email == candidate for a in recipients) else None


_AUTH_PASS = re.compile(
    r"\b(?:dmarc=pass\b[^;]*?\bheader\.from=|dkim=pass\b[^;]*?\bheader\.(?:d|i)=@?)"
    r"([a-z0-9.-]+)",
    re.IGNORECASE,
)


def authenticated(results: str | None, sender: Address | None) -> bool:
    """The receiving server vouches for the From domain: the topmost Authentication-Results
    (the one my own server added; a sender can forge only those below it) shows DMARC, or
    DKIM aligned with From, passing for that domain."""
    if not results or sender is None:
        return False
    domain = sender.email.rsplit("@", 1)[-1]
    return any(d.lower().rstrip(".") == domain for d in _AUTH_PASS.findall(results))
