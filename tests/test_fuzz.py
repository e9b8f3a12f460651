"""Property-based tests (hypothesis) of what outsiders feed the agent: header blocks, FETCH
responses, calendars, and the rule language and templates a user may get wrong.

No exception escapes the parsers except the one each documents; parsing is deterministic;
budgets hold. Derandomised so a CI failure reproduces, and bounded so the suite stays quick.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config.settings import MeConfig
from connectors.calendar.ical import MAX_TEXT_OCCURRENCES, CalendarError, parse_calendar
from connectors.mail.headers import FIELDS, MAX_ADDRESSES, parse_headers, split_fields
from rules.expr import ExprError, compile_expr
from rules.template import check_template, safe_render

PROFILE = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
ME = MeConfig("Ana", ("ana@example.org",), "UTC")
NOW = datetime(2026, 11, 20, tzinfo=UTC)

# Header-ish text: real field names, separators, folding, encoded words and raw bytes.
_pieces = st.sampled_from(
    [*(f"{f}: " for f in FIELDS), "\r\n", "\n", "\r", " ", "\t", ",", "<", ">", "@", '"',
     "=?utf-8?b?", "=?iso-8859-1?q?", "?=", "(", ")", ";", ":", "\x00", "\x1b", "\u202e",
     "a@b.org", "Re: ", "Mon, 01 Jan 2024 10:00:00 +0100", "1979", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"]
)  # fmt: skip
header_text = st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=60).map("".join)
header_bytes = st.one_of(
    header_text.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=400)
)


@PROFILE
@given(header_bytes)
def test_the_header_parser_never_raises_and_is_deterministic(raw: bytes) -> None:
    first = parse_headers(raw, NOW)
    assert first == parse_headers(raw, NOW)
    assert first.date.tzinfo is not None
    assert all(len(field) <= MAX_ADDRESSES for field in (first.to, first.cc, first.bcc))
    assert all("\x00" not in a.email for a in first.recipients)
    assert isinstance(split_fields(raw), dict)


@PROFILE
@given(st.lists(st.one_of(st.binary(max_size=80), st.tuples(st.binary(max_size=60),
                                                             st.binary(max_size=60))),
                max_size=8))  # fmt: skip
def test_the_fast_fetch_reader_never_raises(raw: list[object]) -> None:
    from connectors.mail.imap_fetch import fast_fetch_response

    result = fast_fetch_response(raw, True)
    assert result is None or isinstance(result, dict)


_ics_lines = st.sampled_from(
    ["BEGIN:VCALENDAR", "END:VCALENDAR", "BEGIN:VEVENT", "END:VEVENT", "VERSION:2.0",
     "UID:x@y", "DTSTART:20250105T100000Z", "DTSTART;TZID=Nowhere/Zone:20250105T100000",
     "DTSTART;VALUE=DATE:20250105", "DTEND:20250105T110000Z", "RRULE:FREQ=DAILY;COUNT=3",
     "RRULE:FREQ=SECONDLY", "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "RRULE:garbage",
     "EXDATE:20250106T100000Z", "RECURRENCE-ID:20250106T100000Z", "STATUS:CANCELLED",
     "ORGANIZER:mailto:bob@example.com", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org",
     "ATTENDEE:mailto:ana@example.org", "ATTENDEE;CUTYPE=ROOM:mailto:room@example.org",
     "BEGIN:VTIMEZONE", "END:VTIMEZONE", "X-WR-TIMEZONE:Europe/Berlin", ";;;", " folded"]
)  # fmt: skip
ics_text = st.lists(st.one_of(_ics_lines, st.text(max_size=20)), max_size=40).map("\r\n".join)


@PROFILE
@given(ics_text)
def test_the_calendar_reader_raises_only_calendar_error(text: str) -> None:
    try:
        parsed = parse_calendar(text, ME, NOW, "fuzz")
    except CalendarError:
        return
    assert len(parsed.meetings) <= MAX_TEXT_OCCURRENCES
    assert all(m.start.tzinfo is not None for m in parsed.meetings)


NAMES = {"silence_days", "emails_sent", "rhythm", "personal_tie", "gap_p90_days"}
_tokens = st.sampled_from(
    [*NAMES, " ", "and", "or", "not", "in", "is", "None", "(", ")", "[", "]", ",", "+", "-",
     "*", "/", "//", "%", "**", "<", ">", "<=", ">=", "==", "!=", "min", "max", "abs", "0",
     "1", "2.5", "9" * 30, "'x'", "__import__", "os", ".", "lambda", ":", "if", "else", "x"]
)  # fmt: skip
expression = st.lists(_tokens, min_size=1, max_size=30).map(" ".join)
values = st.fixed_dictionaries({
    "silence_days": st.one_of(st.none(), st.integers(-10**6, 10**6)),
    "emails_sent": st.one_of(st.none(), st.integers(0, 10**6)),
    "rhythm": st.one_of(st.none(), st.text(max_size=10)),
    "personal_tie": st.booleans(),
    "gap_p90_days": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
})  # fmt: skip


@PROFILE
@given(expression, values)
def test_rule_expressions_compile_or_refuse_and_never_raise_when_evaluated(
    source: str, env: dict[str, object]
) -> None:
    try:
        compiled = compile_expr(source, NAMES)
    except ExprError:
        return
    assert isinstance(compiled.holds(env), bool)


template_text = st.lists(
    st.one_of(st.sampled_from(["{", "}", "{{", "}}", "{name}", "{silence_days:.0f}",
                               "{rhythm!r}", "{x.y}", "{0}", ":", "!", "%"]),
              st.text(string.printable, max_size=6)),
    max_size=20,
).map("".join)  # fmt: skip


@PROFILE
@given(template_text, values)
def test_templates_are_checked_or_refused_and_rendering_never_raises(
    template: str, env: dict[str, object]
) -> None:
    kinds = {"name": "text", "silence_days": "number", "rhythm": "text"}
    problems = check_template(template, kinds)
    if problems:
        return
    rendered = safe_render(template, template, {"name": "Bob", **env})
    assert isinstance(rendered, str)


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", b"From:\r\n", b":" * 10_000])
def test_edge_blocks(raw: bytes) -> None:
    assert parse_headers(raw, NOW).key
