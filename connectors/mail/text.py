"""The text of one message, for the one case the agent reads text without asking: a reply
the user wrote to a digest (agent/runtime/replies.py). Never stored; bounded in size."""

from __future__ import annotations

import email
import email.policy
import html
import re

MAX_BYTES = 64 * 1024  # a reply is a few lines; a quoted digest is cut off before this
_TAG = re.compile(r"<[^>]+>")


def plain_text(raw: bytes) -> str:
    """The text/plain part of a message (else its HTML part without tags), or ""."""
    try:
        message = email.message_from_bytes(raw[:MAX_BYTES], policy=email.policy.default)
        part = message.get_body(("plain", "html"))
        if part is None:
            return ""
        text = str(part.get_content())
    except (LookupError, ValueError, TypeError, AttributeError):
        return ""
    if part.get_content_subtype() == "html":
        text = html.unescape(_TAG.sub("\n", text))
    return text
