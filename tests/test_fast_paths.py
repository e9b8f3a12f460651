"""The sync's fast paths give exactly what the general code gives, or step aside.

connectors.mail.imap_fetch.HeaderClient reads plain FETCH answers by hand and hands anything else to
imapclient; connectors.mail.headers splits clean CRLF blocks and common Date headers by hand and
hands anything else to the line-by-line splitter and email.utils. Both must agree wherever the fast
path answers.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from imapclient.response_parser import parse_fetch_response

from connectors.mail.headers import _parse_date, _split_clean, _split_lines
from connectors.mail.imap_fetch import fast_fetch_response

BODY = b"BODY[HEADER.FIELDS (FROM TO)]"
LITERAL = b"From: a@b.org\r\nTo: c@d.org\r\n\r\n"


def _head(items: bytes, seq: int = 1) -> tuple[bytes, bytes]:
    return (b"%d (%s%s {%d}" % (seq, items, BODY, len(LITERAL)), LITERAL)


def _comparable(response: dict[int, dict[bytes, Any]]) -> dict[int, dict[bytes, Any]]:
    # imapclient's FixedOffset and datetime.timezone compare equal as instants; keep offsets.
    return {
        uid: {k: (v, v.utcoffset()) if isinstance(v, datetime) else v for k, v in item.items()}
        for uid, item in response.items()
    }


@pytest.mark.parametrize(
    "data",
    [
        [_head(b'UID 7 INTERNALDATE "30-Jun-2021 18:58:33 +0200" '), b")"],
        [_head(b'INTERNALDATE " 3-Jun-2021 18:58:33 -0530" '), b" UID 9)"],
        [_head(b'UID 7 MODSEQ (12) INTERNALDATE "30-Jun-2021 18:58:33 +0000" '), b")"],
        [_head(b"UID 7 "), b")", _head(b"UID 8 ", seq=2), b")"],
    ],
)
def test_plain_fetch_answers_read_by_hand_match_imapclient(data: list[Any]) -> None:
    fast = fast_fetch_response(data, normalise_times=False)
    assert fast is not None
    assert _comparable(fast) == _comparable(parse_fetch_response(data, False, True))


@pytest.mark.parametrize(
    "data",
    [
        [_head(b"UID 7 FLAGS (\\Seen) "), b")"],  # an item the fast path does not read
        [_head(b"UID 7 "), b")", b"3 (FLAGS (\\Seen))"],  # an unsolicited update
        [b"1 (UID 7 " + BODY + b' "")'],  # a quoted body
        [b"1 (UID 7 " + BODY + b" NIL)"],
        [_head(b'UID 7 INTERNALDATE "garbage" '), b")"],
        [_head(b""), b")"],  # no UID
    ],
)
def test_other_fetch_answers_go_to_imapclient(data: list[Any]) -> None:
    assert fast_fetch_response(data, normalise_times=False) is None


def test_clean_header_split_agrees_with_the_line_splitter() -> None:
    rng = random.Random(7)
    atoms = ["From", "to", "CC", "References", "X y", "a:b", ":", " ", "\t", "\r\n", "\n",
             "\r", "val", "<a@b>", ",", "\x0c", "\u2028", "\u00a0", "é", "  "]  # fmt: skip
    accepted = 0
    for _ in range(20_000):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(0, 25)))
        fast = _split_clean(text)
        if fast is not None:
            accepted += 1
            assert fast == _split_lines(text), repr(text)
    assert accepted > 100  # the comparison did happen


def test_long_lines_without_structure_stay_linear() -> None:
    # A regex search from every position would be quadratic here; this must return at once.
    assert _split_clean("x" * 200_000 + "\r\n") is None
    assert _split_clean("Subject: " + "x" * 200_000 + "\r\n") == {"subject": "x" * 200_000}


def test_fast_dates_agree_with_the_stdlib() -> None:
    rng = random.Random(3)
    for _ in range(20_000):
        value = (
            f"{rng.choice(['Mon, ', '', 'Xyz,'])}{rng.randint(0, 32)} "
            f"{rng.choice(['Jan', 'feb', 'MAY', 'Foo'])} {rng.choice([1999, 2024, 99])} "
            f"{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}"
            f"{rng.choice(['', ':' + str(rng.randint(0, 61)).zfill(2)])} "
            f"{rng.choice('+-')}{rng.randint(0, 2400):04d}{rng.choice(['', ' (UTC)'])}"
        )
        try:
            expected = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            expected = None
        if expected is not None:
            expected = (
                expected.replace(tzinfo=UTC) if expected.tzinfo is None
                else expected.astimezone(UTC)
            )  # fmt: skip
        assert _parse_date(value) == expected, value
