"""Text from mail, calendars and servers, made safe to show.

A display name, a calendar CN or a server's error can carry terminal escapes (clear the
screen, write the clipboard, retitle the window, forge a hyperlink), line breaks that forge a
table row, or bidi overrides that show text reversed. Nothing that came from outside reaches a
terminal or a mail with those left in.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls (tab and newline apart, where a caller's own layout needs them), DEL,
# and the bidi embedding, override and isolate characters.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]")


def clean(value: object) -> str:
    """One line of outside text, safe to print: no control characters, no line breaks."""
    text = unicodedata.normalize("NFC", str(value))
    return " ".join(UNSAFE.sub("", text).split())


def for_terminal(text: str) -> str:
    """A whole block of output with every control and bidi character dropped; the block's
    own line breaks and tabs stay."""
    return UNSAFE.sub("", text)


def json_for_terminal(text: str) -> str:
    """JSON text with the characters json.dumps(ensure_ascii=False) leaves raw but a terminal
    obeys (C1 controls, bidi overrides) written as \\u escapes: the same JSON value."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
