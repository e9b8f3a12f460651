"""Reading header FETCH answers: the items we ask for, and a reader faster than imapclient's.

imapclient's general response tokenizer costs more CPU than everything else in a first sync.
``HeaderClient`` reads the plain answer nearly every server sends by hand and hands anything
else to imapclient, so what it returns is always what ``IMAPClient.fetch`` would return.
This module touches imapclient's internals (``_imap``, ``_checkok``); nothing else does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from imapclient import IMAPClient
from imapclient.datetime_util import parse_to_datetime
from imapclient.imapclient import join_message_ids, seq_to_parenstr_upper, to_ints
from imapclient.response_parser import parse_fetch_response

from connectors.mail.headers import FIELDS

HEADER_ITEM = f"BODY.PEEK[HEADER.FIELDS ({' '.join(FIELDS).upper()})]"
FETCH_ITEMS = [HEADER_ITEM, "INTERNALDATE"]
# Servers answer with the item name minus ".PEEK" (RFC 3501 6.4.5).
HEADER_KEY = HEADER_ITEM.replace(".PEEK", "").encode("ascii")


class HeaderClient(IMAPClient):  # type: ignore[misc]  # imapclient ships no type hints
    """IMAPClient whose ``fetch`` reads the usual answer to a header FETCH without imapclient's
    general response tokenizer, which costs more CPU than everything else in a first sync.

    Takes the fast path only for ``UID FETCH`` answers of the plain shape nearly every server
    sends: ``* n FETCH (UID u INTERNALDATE "..." BODY[...] {len}`` literal ``)``, items in any
    order. Anything else in the batch (an unsolicited FLAGS update, a quoted or NIL body, an
    unknown item) sends the whole batch through imapclient's own parser, so the result is
    always what ``IMAPClient.fetch`` returns.
    """

    def fetch(self, messages: Any, data: Any, modifiers: Any = None) -> Any:
        if modifiers or not self.use_uid or not messages:
            return super().fetch(messages, data, modifiers)
        args = ["UID", "FETCH", join_message_ids(messages), seq_to_parenstr_upper(data)]
        tag = self._imap._command(*args)
        typ, raw = self._imap._command_complete("FETCH", tag)
        self._checkok("fetch", typ, raw)
        typ, raw = self._imap._untagged_response(typ, raw, "FETCH")
        response = fast_fetch_response(raw, self.normalise_times)
        if response is None:
            response = parse_fetch_response(raw, self.normalise_times, True)
        return {uid: response[uid] for uid in to_ints(messages) if uid in response}


def header_block(data: dict[bytes, Any]) -> bytes:
    raw = data.get(HEADER_KEY)
    if raw is None:
        # Some servers spell the echoed item differently (field case, spacing).
        raw = next((v for k, v in data.items() if k.upper().startswith(b"BODY[")), b"")
    return bytes(raw or b"")


def internaldate(data: dict[bytes, Any]) -> datetime | None:
    value = data.get(b"INTERNALDATE")
    return value if isinstance(value, datetime) else None


# "* n FETCH (" has been stripped by imaplib: what is left of the line before the literal.
_FETCH_HEAD = re.compile(rb"(\d+) \((.*)(BODY\[[^\]]*\]) \{(\d+)\}", re.DOTALL)
_FETCH_ITEM = re.compile(rb' *(?:UID (\d+)|INTERNALDATE "([^"]*)"|MODSEQ \((\d+)\))')
_INTERNALDATE = re.compile(
    rb" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"
)
_MONTHS = {m: i for i, m in enumerate(
    (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
     b"dec"), 1,
)}  # fmt: skip
_ZONES: dict[bytes, timezone] = {}


def fast_fetch_response(
    raw: Sequence[Any], normalise_times: bool
) -> dict[int, dict[bytes, Any]] | None:
    """{uid: {b"BODY[...]": bytes, b"INTERNALDATE": datetime, b"SEQ": n}} from imaplib's
    untagged FETCH data, or None when any element is not of the plain shape."""
    out: dict[int, dict[bytes, Any]] = {}
    if len(raw) % 2:
        return None
    for i in range(0, len(raw), 2):
        head, tail = raw[i], raw[i + 1]
        if not isinstance(head, tuple) or len(head) != 2 or not isinstance(tail, bytes):
            return None
        m = _FETCH_HEAD.fullmatch(head[0])
        literal = head[1]
        if m is None or not tail.endswith(b")") or int(m.group(4)) != len(literal):
            return None
        item: dict[bytes, Any] = {m.group(3): literal, b"SEQ": int(m.group(1))}
        uid = None
        for rest in (m.group(2), tail[:-1]):
            pos = 0
            while pos < len(rest):
                found = _FETCH_ITEM.match(rest, pos)
                if found is None or found.end() == pos:
                    if rest[pos:].strip():
                        return None  # an item we do not read by hand
                    break
                pos = found.end()
                if found.group(1) is not None:
                    uid = int(found.group(1))
                elif found.group(3) is not None:
                    item[b"MODSEQ"] = (int(found.group(3)),)
                else:
                    date = _internaldate_value(found.group(2), normalise_times)
                    if date is None:
                        return None
                    item[b"INTERNALDATE"] = date
        if uid is None:
            return None
        out[uid] = item
    return out


def _internaldate_value(value: bytes, normalise_times: bool) -> datetime | None:
    m = _INTERNALDATE.fullmatch(value)
    month = _MONTHS.get(m.group(2).lower()) if m else None
    if m is None or month is None or normalise_times:
        try:
            parsed: datetime = parse_to_datetime(value, normalise=normalise_times)
            return parsed
        except ValueError:
            return None
    day, _, year, hour, minute, second, sign, hh, mm = m.groups()
    zone = _ZONES.get(sign + hh + mm)
    if zone is None:
        offset = timedelta(hours=int(hh), minutes=int(mm))
        zone = _ZONES.setdefault(sign + hh + mm, timezone(-offset if sign == b"-" else offset))
    try:
        return datetime(int(year), month, int(day), int(hour), int(minute), int(second),
                        tzinfo=zone)  # fmt: skip
    except ValueError:
        return None
