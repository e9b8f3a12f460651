"""Colour on a terminal only: `--color auto|always|never`, and NO_COLOR (https://no-color.org).

Commands paint a word with ``paint`` unconditionally; whether the codes reach the output is
decided once, on the click context (``ctx.color``), and click.echo strips them everywhere
else: in a pipe, a file, the journal, and always in JSON, which is never painted at all.
Only our own words are painted, after any padding, so column widths stay right.
"""

from __future__ import annotations

import os
from typing import Any

import click

CHOICES = ("auto", "always", "never")
_ROLES: dict[str, dict[str, Any]] = {
    "ok": {"fg": "green"},
    "failed": {"fg": "red", "bold": True},
    "alert": {"fg": "red", "bold": True},
    "warning": {"fg": "yellow"},
    "info": {"fg": "cyan"},
}


def decide(choice: str) -> bool | None:
    """What ``ctx.color`` should be: True/False, or None to let click look for a terminal."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return None


def paint(text: str, role: str) -> str:
    return click.style(text, **_ROLES[role])
