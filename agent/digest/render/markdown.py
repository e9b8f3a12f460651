"""The digest as Markdown (CommonMark): for notes apps, chat, or a file kept in git."""

from __future__ import annotations

import re

from agent.digest.build import Digest, Group
from agent.digest.render import common
from agent.i18n import Translate

# Characters that would turn a name from mail into emphasis, a link, raw HTML or a table.
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")


def escape(text: str) -> str:
    """Backslash-escape Markdown syntax in text that came from mail."""
    return _SPECIAL.sub(r"\\\1", text)


def render_markdown(digest: Digest, _: Translate) -> str:
    lines = [f"# {escape(common.title(digest, _))}", "", f"## {escape(_(common.SUMMARY_HEADING))}"]
    lines += [""] + [f"- {escape(label)}: **{value}**" for label, value in _rows(digest, _)]
    if not digest.groups:
        lines += ["", escape(common.nothing(digest, _))]
    for group in digest.groups:
        lines += ["", *_group(group, _, digest.number)]
    if digest.answerable and digest.findings:
        lines += ["", escape(_(common.ANSWER))]
    return "\n".join(lines) + "\n"


def _rows(digest: Digest, _: Translate) -> list[tuple[str, str]]:
    return [(label, escape(value)) for label, value in common.summary_rows(digest.summary, _)]


def _group(group: Group, _: Translate, number: common.Numbering) -> list[str]:
    heading = escape(common.heading(group, _))
    lines = [f"## {heading} ({len(group.findings)})"]
    explanation = common.explanation(group, _)
    if explanation:
        lines += ["", f"*{escape(explanation)}*"]
    lines.append("")
    items, more = common.shown(group, _, number=number)
    for entry in items:
        lines += _item(entry, _)
    if more:
        lines += ["", escape(more)]
    return lines


def _item(item: common.Item, _: Translate) -> list[str]:
    severity = escape(_(common.SEVERITY_LABELS[item.severity]))
    who = (f"\\[{item.number}\\] " if item.number else "") + f"**{escape(item.name)}**"
    if item.email and item.email != item.name:
        who += f" \\<{escape(item.email)}\\>"
    lines = [
        f"- {who} ({severity}): {escape(item.message)}  ",
        f"  → {escape(item.suggestion)}",
    ]
    for label, message in item.also:
        lines[-1] += "  "  # hard line break before each extra finding
        lines.append(f"  *{escape(label)}* — {escape(message)}")
    return lines
