"""Answering the digest by mail: the lines of a reply, read as decisions. Pure.

Only the writer's own new text counts: reading stops at the first quoted line, the quote
header mail clients write ("On … wrote:", "Am … schrieb …:", "El … escribió:", "Il … ha
scritto:", "-----Original Message-----") and the signature separator. A line is a verb and
the digest's numbers, in English or in the digest's language, verb first or number first:
``snooze 2 3w``, ``2 schlummern 3w``, ``dismiss 4``, ``done 1``, ``forget 5``, ``merge 3 6``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from agent.config.durations import parse_duration

VERBS: dict[str, tuple[str, ...]] = {
    "snooze": ("snooze", "schlummern", "später", "posponer", "aplazar", "posticipa", "rimanda"),
    "dismiss": ("dismiss", "verwerfen", "ignorieren", "descartar", "ignorar", "scarta", "ignora"),
    "done": ("done", "erledigt", "hecho", "listo", "fatto"),
    "forget": ("forget", "vergessen", "olvidar", "dimentica"),
    "merge": ("merge", "zusammenführen", "fusionar", "unisci"),
}
_VERB_OF = {word: verb for verb, words in VERBS.items() for word in words}
MAX_LINES = 50  # a reply quoting the whole digest stops at the quote; this bounds the rest
SNOOZE_DEFAULT = timedelta(weeks=2)
_QUOTE_HEADER = re.compile(
    r"^(on\s.+\swrote:|am\s.+\sschrieb.*:|el\s.+\sescribió:|il\s.+\sha scritto:|"
    r"-{2,}\s*(original message|ursprüngliche nachricht|mensaje original|messaggio originale)"
    r"\s*-{2,})\s*$",
    re.IGNORECASE,
)
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Command:
    verb: str  # snooze | dismiss | done | forget | merge
    numbers: tuple[int, ...]
    duration: timedelta | None = None
    line: str = ""


@dataclass(frozen=True)
class Unclear:
    line: str
    why: str


def own_lines(text: str) -> list[str]:
    """The non-empty lines the writer typed, before any quote or signature."""
    out: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith(">") or _QUOTE_HEADER.match(line) or raw.rstrip() == "--":
            break
        if line:
            out.append(line)
        if len(out) >= MAX_LINES:
            break
    return out


def parse(text: str) -> list[Command | Unclear]:
    return [_line(line) for line in own_lines(text)]


def _line(line: str) -> Command | Unclear:
    words = [w.strip(".,;:!").lower() for w in _WORD.findall(line)]
    verbs = [w for w in words if w in _VERB_OF]
    if len(verbs) != 1:
        return Unclear(line, "no known word (snooze, dismiss, done, forget, merge)")
    verb = _VERB_OF[verbs[0]]
    numbers = tuple(int(w.lstrip("[").rstrip("]")) for w in words
                    if w.lstrip("[").rstrip("]").isdigit())  # fmt: skip
    rest = [w for w in words if w not in verbs and not w.lstrip("[").rstrip("]").isdigit()]
    duration = None
    if verb == "snooze" and rest:
        try:
            duration = parse_duration(rest[0])
        except ValueError:
            return Unclear(line, f"{rest[0]!r} is not a duration like 3d or 2w")
    elif rest:
        return Unclear(line, f"did not understand {' '.join(rest)!r}")
    wanted = 2 if verb == "merge" else 1
    if len(numbers) != wanted:
        return Unclear(line, f"{verb} takes {wanted} number{'s' if wanted > 1 else ''}")
    return Command(verb, numbers, duration or (SNOOZE_DEFAULT if verb == "snooze" else None),
                   line)  # fmt: skip
