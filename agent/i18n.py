"""Digest languages through standard gettext catalogs (agent/locale/<lang>/LC_MESSAGES/agent.mo).

English is the source language and needs no catalog. Catalogs hold the digest's own strings
and the message/suggestion templates of the built-in rules; `python -m agent.i18n_extract`
regenerates the template and merges it into the .po files, then compiles the .mo files.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache
from pathlib import Path

DOMAIN = "agent"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "de", "es", "it")

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Mark a string for extraction without translating it (translated later, at render time)."""
    return message


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog for ``language``; unknown languages and "en" fall back to the English source."""
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def translator(language: str) -> Translate:
    """A ``gettext`` function for ``language``: translator("de")("Fading") == "Verblassend"."""
    return translations(language).gettext
