"""Render a digest as text, markdown, html or json, in one of the digest languages."""

from __future__ import annotations

import json

from agent.config.settings import DIGEST_FORMATS
from agent.digest.build import Digest
from agent.digest.render.html import render_html
from agent.digest.render.markdown import render_markdown
from agent.digest.render.text import render_text
from agent.i18n import translator

FORMATS = DIGEST_FORMATS  # declared with the config key [digest] format


def render(digest: Digest, fmt: str, language: str = "en") -> str:
    """The digest in ``fmt`` (one of FORMATS), headings and summary in ``language``.

    Finding messages and suggestions arrive already translated (the rules engine applies the
    same catalog to its templates), so JSON is language-neutral apart from those.
    """
    _ = translator(language)
    if fmt == "text":
        return render_text(digest, _)
    if fmt == "markdown":
        return render_markdown(digest, _)
    if fmt == "html":
        return render_html(digest, _, language)
    if fmt == "json":
        return json.dumps(digest.to_json(), ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown digest format {fmt!r}; use one of {', '.join(FORMATS)}")
