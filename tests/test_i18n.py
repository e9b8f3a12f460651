"""Catalogs: complete in every language, placeholders intact, .pot/.po/.mo up to date."""

from __future__ import annotations

import gettext
import io
import string
from collections import Counter
from pathlib import Path

import pytest

from agent import i18n_extract as extract
from agent.i18n import DOMAIN, LOCALE_DIR, translator

PO_FILES = {lang: LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po" for lang in extract.TRANSLATED}


def fields(template: str) -> Counter[tuple[str, str, str]]:
    """The replacement fields of a str.format template, with their format specs."""
    parsed = string.Formatter().parse(template)
    return Counter((name, spec or "", conv or "") for _, name, spec, conv in parsed if name)


@pytest.mark.parametrize("language", extract.TRANSLATED)
def test_every_msgid_is_translated(language: str) -> None:
    catalog = extract.read_po(PO_FILES[language])
    missing = [msgid for msgid, msgstr in catalog.items() if msgid and not msgstr.strip()]
    assert not missing, f"{language}: untranslated (run python -m agent.i18n_extract): {missing}"


@pytest.mark.parametrize("language", extract.TRANSLATED)
def test_placeholders_survive_translation(language: str) -> None:
    catalog = extract.read_po(PO_FILES[language])
    for msgid, msgstr in catalog.items():
        if msgid and msgstr:
            assert fields(msgstr) == fields(msgid), f"{language}: {msgid!r} -> {msgstr!r}"


def test_catalogs_cover_the_code_and_the_builtin_rules() -> None:
    found = extract.extract()
    assert "Fading" in found and "Your relationship digest — {date}" in found
    for language, path in PO_FILES.items():
        assert set(extract.read_po(path)) - {""} == set(found), language


def test_generated_files_are_up_to_date() -> None:
    stale = [
        str(path.relative_to(extract.ROOT))
        for path, data in extract.planned().items()
        if not path.exists() or path.read_bytes() != data
    ]
    assert not stale, f"out of date, run `python -m agent.i18n_extract`: {stale}"


def test_compiled_catalog_is_read_by_gettext() -> None:
    catalog = {"": extract.header("de"), "Fading": "Verblassend", "Empty": ""}
    translations = gettext.GNUTranslations(io.BytesIO(extract.compile_mo(catalog)))
    assert translations.gettext("Fading") == "Verblassend"
    assert translations.gettext("Empty") == "Empty"  # untranslated entries fall back
    assert translations.info()["language"] == "de"


def test_po_round_trip_with_escapes_and_fuzzy(tmp_path: Path) -> None:
    found = {'Say "hi"\\ {name}\n': ["x.py"]}
    text = extract.format_po("it", found, {'Say "hi"\\ {name}\n': 'Di\' "ciao"\\ {name}\n'})
    path = tmp_path / "x.po"
    path.write_text(text + '\n#, fuzzy\nmsgid "Fuzzy"\nmsgstr "F"\n', encoding="utf-8")
    catalog = extract.read_po(path)
    assert catalog['Say "hi"\\ {name}\n'] == 'Di\' "ciao"\\ {name}\n'
    assert catalog["Fuzzy"] == ""


def test_rule_templates_are_found_anywhere_in_the_yaml(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - id: a\n    message: '{name}: quiet'\n"
        "    suggestion: Call {first_name}.\n",
        encoding="utf-8",
    )
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "m.py").write_text('x = _("Hello")\ny = N_("World")\nz = f("no")\n')
    found = extract.extract(sources, rules, root=tmp_path)
    assert list(found) == ["Hello", "World", "{name}: quiet", "Call {first_name}."]


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "Reply owed"), ("de", "Antwort offen"), ("es", "Respuesta pendiente"),
     ("it", "Risposta in sospeso"), ("fr", "Reply owed")],
)  # fmt: skip
def test_translator(language: str, expected: str) -> None:
    assert translator(language)("Reply owed") == expected
