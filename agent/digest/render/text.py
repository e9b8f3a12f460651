"""The digest for a terminal: plain text, wrapped to a width, headings underlined."""

from __future__ import annotations

import textwrap

from agent.digest.build import Digest, Group
from agent.digest.render import common
from agent.i18n import Translate

WIDTH = 78
MARKS = {"alert": "!!", "warning": "! ", "info": "· "}
INDENT = "     "  # under the two-character mark, after the two-space margin


def render_text(digest: Digest, _: Translate, width: int = WIDTH) -> str:
    title = common.title(digest, _)
    lines = [*_wrap(title, width), "═" * min(len(title), width), ""]
    lines += _summary(digest, _, width)
    if not digest.groups:
        lines += ["", *_wrap(common.nothing(digest, _), width)]
    for group in digest.groups:
        lines += ["", *_group(group, _, width, digest.number)]
    if digest.answerable and digest.findings:
        lines += ["", *_wrap(_(common.ANSWER), width)]
    return "\n".join(lines) + "\n"


def _summary(digest: Digest, _: Translate, width: int) -> list[str]:
    rows = common.summary_rows(digest.summary, _)
    label_width = max(len(label) for label, _value in rows)
    lines = [_(common.SUMMARY_HEADING)]
    for label, value in rows:
        lines += _wrap(f"{label.ljust(label_width)}  {value}", width, "  ", "  ")
    return lines


def _group(group: Group, _: Translate, width: int, number: common.Numbering) -> list[str]:
    heading = f"{common.heading(group, _)} ({len(group.findings)})"
    lines = [*_wrap(heading, width), "─" * min(len(heading), width)]
    explanation = common.explanation(group, _)
    if explanation:
        lines += _wrap(explanation, width)
    items, more = common.shown(group, _, number=number)
    for entry in items:
        lines += ["", *_item(entry, width)]
    if more:
        lines += ["", *_wrap(more, width, "  ", "  ")]
    return lines


def _item(item: common.Item, width: int) -> list[str]:
    who = f"{item.name} <{item.email}>" if item.email and item.email != item.name else item.name
    tag = f"[{item.number}] " if item.number else ""
    lines = _wrap(tag + who, width, f"  {MARKS[item.severity]} ", INDENT)
    lines += _wrap(item.message, width, INDENT, INDENT)
    lines += _wrap(f"→ {item.suggestion}", width, INDENT, INDENT + "  ")
    for label, message in item.also:
        lines += _wrap(f"{label} — {message}", width, INDENT, INDENT + "  ")
    return lines


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    return textwrap.wrap(
        text, width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    ) or [first.rstrip()]
