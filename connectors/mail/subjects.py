"""What a Subject (and Thread-Index) says about a message: its thread, a reply, a machine.

Outlook, Exchange and most archives write no References: a reply is known only by the prefix
its client put before the subject ("RE:", "AW:", "R:", ...) and by Exchange's Thread-Index.
Pure functions; nothing here keeps the subject's text: ``topic`` is compared in memory and the
store keeps only a keyed hash of it.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

# Reply prefixes: en/fr/es/pt Re, de AW/Antw, it R/Rif, nl Antw, sv/da/no SV, fi VS, pl Odp,
# tr YNT, cs Odp. Forward prefixes: Fwd/Fw, de WG, fr TR, it I/Inoltro, es RV/Reenv, pt Enc,
# nl Doorst, sv/da VB/VS, fi VL. Each may carry a counter ("Re[2]:", "AW(3):").
_REPLY_WORDS = r"re|aw|antw|antwort|r|rif|sv|vs|odp|ynt|réf|ref"
_FORWARD_WORDS = r"fwd?|wg|tr|i|inoltro|rv|reenv|enc|doorst|vb|vl|fs"
_COUNTER = r"(?:\s*\[\d+\]|\s*\(\d+\))?"
_PREFIX = re.compile(
    rf"^\s*(?:(?P<word>{_REPLY_WORDS}|{_FORWARD_WORDS}){_COUNTER}\s*[:：]|\[[^\[\]]{{1,40}}\])\s*",
    re.IGNORECASE,
)
_REPLY = re.compile(rf"^(?:{_REPLY_WORDS})$", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# The subjects auto-responders write, in the languages we read and a few neighbours'.
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|r)\s*:\s*)?(?:"
    r"out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response)|"
    r"autoreply|away from (?:the |my )?(?:office|desk)|on vacation|"
    r"automatische antwort|abwesenheitsnotiz|abwesenheit|nicht im büro|"
    r"respuesta automática|respuesta automatica|fuera de la oficina|ausencia|"
    r"risposta automatica|fuori sede|fuori ufficio|assente|"
    r"réponse automatique|absence du bureau|absent du bureau|"
    r"automatisch antwoord|afwezig"
    r")\b",
    re.IGNORECASE,
)
_DELIVERY_SUBJECT = re.compile(
    r"^\s*(?:undeliverable|undelivered mail|delivery status notification|"
    r"delivery (?:has )?failed|returned mail|mail delivery (?:failed|failure|system)|"
    r"unzustellbar|nicht zustellbar|no se puede entregar|non recapitabile|"
    r"read:|gelesen:|leído:|letto:|lu :)",
    re.IGNORECASE,
)
# Ticket systems put the ticket number in the subject: "[#12345]", "[Ticket#2024...]",
# "Case 00123456", "Request #42 ...", "[JIRA] (PROJ-12)".
_TICKET_SUBJECT = re.compile(
    r"\[(?:#|ticket\s*#?|case\s*#?|request\s*#?|incident\s*#?)\s*[\w-]*\d{3,}[\w-]*\]|"
    r"\b(?:ticket|case|request|incident|vorgang|caso|richiesta|ticketnummer)\s*"
    r"(?:#|no\.?|nr\.?|n\.|number|id)\s*:?\s*\d{4,}\b|"
    r"^\s*\[jira\]",
    re.IGNORECASE,
)
# Thread-Index: base64 of a 22-byte header (6 bytes of time, a 16-byte conversation GUID) and
# 5 bytes more per reply level. The header names the conversation.
_INDEX_HEAD = 22
_INDEX_CHILD = 5


def strip_prefixes(subject: str) -> tuple[str, bool]:
    """The subject without reply/forward prefixes and list tags, and whether the outermost
    real prefix (not a list tag) was a reply's."""
    text = subject
    first_word: str | None = None
    while True:
        match = _PREFIX.match(text)
        if match is None or match.end() == 0:
            break
        word = match.group("word")
        if word is not None and first_word is None:
            first_word = word
        text = text[match.end() :]
    return text, first_word is not None and bool(_REPLY.match(first_word))


def read_subject(subject: str | None) -> tuple[str | None, bool]:
    """The conversation's topic and whether the subject marks a reply, in one pass.

    The topic has prefixes and list tags stripped, case and spacing folded:
    ``read_subject("AW: [team] Re:  Budget 2001")`` == ``("budget 2001", True)``. An empty
    subject names no conversation: ``(None, False)``.
    """
    if not subject:
        return None, False
    text, reply = strip_prefixes(subject)
    folded = _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()
    return folded or None, reply


def topic(subject: str | None) -> str | None:
    """The topic alone: ``topic("Re: Budget")`` == ``topic("budget")`` == ``"budget"``."""
    return read_subject(subject)[0]


def is_reply_subject(subject: str | None) -> bool:
    return read_subject(subject)[1]


def subject_reason(subject: str | None) -> str | None:
    """Why a subject says a machine wrote this (auto-reply, delivery report, ticket), or None."""
    if not subject:
        return None
    if _AUTO_REPLY_SUBJECT.search(subject):
        return "auto-reply"
    if _DELIVERY_SUBJECT.search(subject):
        return "delivery report"
    if _TICKET_SUBJECT.search(subject):
        return "ticket system"
    return None


def thread_index(value: str | None) -> tuple[str | None, bool]:
    """The conversation a Thread-Index names (its 22-byte header, base64) and whether the
    message is a reply in it (the index has child blocks). ``(None, False)`` when absent or
    unreadable."""
    if not value:
        return None, False
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None, False
    if len(raw) < _INDEX_HEAD:
        return None, False
    head = base64.b64encode(raw[:_INDEX_HEAD]).decode("ascii")
    return head, len(raw) >= _INDEX_HEAD + _INDEX_CHILD
