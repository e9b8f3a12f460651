"""The digest as an HTML e-mail body.

Mail clients strip <style> blocks and scripts and ignore most CSS layout (Outlook renders with
Word), so this is a single-column table layout with inline styles only, no images, no external
resources. Every text value is escaped: names, addresses and messages come from mail headers.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from agent.digest.build import Digest, Group
from agent.digest.render import common
from agent.i18n import Translate

FONT = "font-family:Helvetica,Arial,sans-serif;"
COLORS = {"alert": "#b03a2e", "warning": "#b9770e", "info": "#7f8c8d"}
TEXT = "#222222"
MUTED = "#666666"


def render_html(digest: Digest, _: Translate, language: str) -> str:
    title = escape(common.title(digest, _))
    body = [_header(title), _summary(digest, _)]
    if not digest.groups:
        body.append(_row(f'<p style="{FONT}margin:16px 0;color:{TEXT};">'
                         f"{escape(common.nothing(digest, _))}</p>"))  # fmt: skip
    links = _links(digest, _)
    body += [_group(group, _, digest, links) for group in digest.groups]
    if digest.answerable and digest.findings:
        body.append(_row(f'<p style="{FONT}font-size:13px;color:{TEXT};margin:16px 0 0;">'
                         f"{escape(_(common.ANSWER))}</p>"))  # fmt: skip
    body.append(_row(f'<p style="{FONT}font-size:12px;color:{MUTED};margin:24px 0 0;">'
                     f"{escape(_(common.FOOTER))}</p>"))  # fmt: skip
    return _document(escape(language), title, "\n".join(body))


def _document(language: str, title: str, rows: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="{language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body style="margin:0;padding:0;background-color:#f4f4f2;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" \
style="background-color:#f4f4f2;">
<tr><td align="center" style="padding:16px 8px;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" \
style="width:100%;max-width:600px;background-color:#ffffff;">
{rows}
</table>
</td></tr>
</table>
</body>
</html>
"""


def _row(content: str) -> str:
    return f'<tr><td style="padding:0 24px;">{content}</td></tr>'


def _header(title: str) -> str:
    return _row(f'<h1 style="{FONT}font-size:22px;color:{TEXT};margin:24px 0 8px;">{title}</h1>')


def _summary(digest: Digest, _: Translate) -> str:
    cells = "".join(
        f'<tr><td style="{FONT}font-size:14px;color:{MUTED};padding:2px 12px 2px 0;">'
        f'{escape(label)}</td><td style="{FONT}font-size:14px;color:{TEXT};font-weight:bold;'
        f'padding:2px 0;">{escape(value)}</td></tr>'
        for label, value in common.summary_rows(digest.summary, _)
    )
    heading = (f'<h2 style="{FONT}font-size:16px;color:{TEXT};margin:16px 0 4px;">'
               f"{escape(_(common.SUMMARY_HEADING))}</h2>")  # fmt: skip
    table = f'<table role="presentation" cellpadding="0" cellspacing="0" border="0">{cells}</table>'
    return _row(heading + table)


def _group(group: Group, _: Translate, digest: Digest, links: Callable[[int], str]) -> str:
    parts = [f'<h2 style="{FONT}font-size:18px;color:{TEXT};margin:28px 0 4px;">'
             f"{escape(common.heading(group, _))} ({len(group.findings)})</h2>"]  # fmt: skip
    explanation = common.explanation(group, _)
    if explanation:
        parts.append(f'<p style="{FONT}font-size:13px;color:{MUTED};margin:0 0 8px;">'
                     f"{escape(explanation)}</p>")  # fmt: skip
    items, more = common.shown(group, _, number=digest.number, activity=digest.activity)
    parts += [_item(entry, _, links(entry.number)) for entry in items]
    if more:
        parts.append(f'<p style="{FONT}font-size:13px;color:{MUTED};margin:8px 0;">'
                     f"{escape(more)}</p>")  # fmt: skip
    return _row("".join(parts))


def _number(item: common.Item) -> str:
    if not item.number:
        return ""
    return f'<span style="font-weight:normal;color:{MUTED};">[{item.number}]</span> '


STRIP_HEIGHT = 14  # pixels for the busiest month


def _strip(counts: tuple[int, ...]) -> str:
    """The last year's contact, month by month, as bars drawn with CSS only: mail clients
    block images and scripts. Empty when there is nothing to draw."""
    top = max(counts, default=0)
    if not top:
        return ""
    bars = "".join(
        '<span style="display:inline-block;width:5px;margin-right:1px;vertical-align:bottom;'
        f"height:{max(1, round(c / top * STRIP_HEIGHT))}px;"
        f'background:{"#7a9cc6" if c else "#e4e4e4"};"></span>'
        for c in counts
    )
    return f'<div style="height:{STRIP_HEIGHT}px;line-height:0;margin:3px 0;">{bars}</div>'


def _links(digest: Digest, _: Translate) -> Callable[[int], str]:
    """The answer links under a numbered finding, when the digest is mailed."""
    reply_to = digest.reply_to
    if reply_to is None:
        return lambda n: ""

    def links(number: int) -> str:
        if not number:
            return ""
        shown = []
        for line, label in common.ACTIONS:
            text = f"{line.split()[0]} {number} {' '.join(line.split()[2:])}".strip()
            url = escape(common.mailto(reply_to, text))
            shown.append(f'<a href="{url}" style="color:{MUTED};">{escape(_(label))}</a>')
        return f'<div style="font-size:12px;margin-top:2px;">{" · ".join(shown)}</div>'

    return links


def _item(item: common.Item, _: Translate, links: str = "") -> str:
    color = COLORS[item.severity]
    email = ""
    if item.email and item.email != item.name:
        email = f' <span style="font-weight:normal;color:{MUTED};">{escape(item.email)}</span>'
    severity = escape(_(common.SEVERITY_LABELS[item.severity]))
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="margin:8px 0;">'
        f'<tr><td style="border-left:4px solid {color};padding:6px 0 6px 12px;{FONT}'
        f'font-size:14px;color:{TEXT};">'
        f'<div style="font-weight:bold;">{_number(item)}{escape(item.name)}{email}'
        f' <span style="font-weight:normal;font-size:12px;color:{color};">{severity}</span></div>'
        f"{_strip(item.activity)}"
        f'<div style="margin:2px 0;">{escape(item.message)}</div>'
        f'<div style="color:#1d6f42;">&rarr; {escape(item.suggestion)}</div>'
        f"{''.join(_also(label, message) for label, message in item.also)}"
        f"{links}</td></tr></table>"
    )


def _also(label: str, message: str) -> str:
    return (f'<div style="margin:4px 0 0;font-size:13px;color:{MUTED};">'
            f'<span style="font-weight:bold;">{escape(label)}</span> &mdash; '
            f"{escape(message)}</div>")  # fmt: skip
