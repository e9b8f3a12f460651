"""Terminal text: how wide a string is on screen, and cutting it to fit.

Python's len() counts code points; a terminal shows East Asian wide characters (CJK, most
emoji) in two columns and combining marks in none. Tables measured with len() drift out of
line as soon as a name is Chinese, has an emoji, or spells an accent as a combining mark.
"""

from __future__ import annotations

import os
import shutil
import unicodedata

ELLIPSIS = "…"


def char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: width("日本") == 4, width("e\\u0301") == 1."""
    return sum(char_width(c) for c in text)


def fit(text: str, columns: int) -> str:
    """``text`` cut to at most ``columns`` columns, ending in an ellipsis when cut."""
    if width(text) <= columns:
        return text
    if columns <= 0:
        return ""
    out, used = [], 0
    for char in text:
        w = char_width(char)
        if used + w > columns - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + ELLIPSIS


def pad(text: str, columns: int) -> str:
    """``text`` padded with spaces to ``columns`` columns (cut first if wider)."""
    shown = fit(text, columns)
    return shown + " " * (columns - width(shown))


def terminal_columns(default: int = 100) -> int:
    """$COLUMNS, else the terminal's width, else ``default`` (output to a pipe or a file)."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return shutil.get_terminal_size((default, 24)).columns


def wrap(text: str, columns: int, indent: str = "", hanging: str = "") -> list[str]:
    """``text`` in lines of at most ``columns`` screen columns: the first after ``indent``,
    the rest after ``hanging``. A word wider than a line is cut with an ellipsis."""
    lines: list[str] = []
    current, lead = "", indent
    for word in text.split():
        room = columns - width(lead)
        candidate = f"{current} {word}" if current else word
        if width(candidate) <= room:
            current = candidate
            continue
        if current:
            lines.append(lead + current)
            lead = hanging
            room = columns - width(lead)
        current = fit(word, room)
    if current or not lines:
        lines.append(lead + current)
    return lines
