"""Keep the gettext catalogs in step with the code and the built-in rules.

    python -m agent.i18n_extract          # rewrite agent.pot, merge into each .po, compile .mo
    python -m agent.i18n_extract --check  # exit 1 if any of those files is out of date

Strings come from `_("...")` and `N_("...")` calls under agent/ and from the `message` and
`suggestion` templates in rules/builtin.yaml. A pure-Python .po reader and .mo writer keep
the toolchain free of gettext binaries and Babel; the .mo files are committed so that an
installation needs nothing extra. New msgids land in every .po with an empty msgstr, which
tests/test_i18n.py reports until someone translates them.
"""

from __future__ import annotations

import argparse
import ast
import struct
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from agent.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = LOCALE_DIR.parent.parent
SOURCES = ROOT / "agent"
BUILTIN_RULES = ROOT / "rules" / "builtin.yaml"
POT = LOCALE_DIR / f"{DOMAIN}.pot"
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != "en")
RULE_TEMPLATE_KEYS = ("message", "suggestion")
MARKERS = ("_", "N_")

Catalog = dict[str, str]  # msgid -> msgstr, in file order; "" is the header


def header(language: str) -> str:
    return (
        "Project-Id-Version: relationship-agent\n"
        f"Language: {language}\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "Plural-Forms: nplurals=2; plural=(n != 1);\n"
    )


# -- extraction --------------------------------------------------------------------------


def extract(
    sources: Path = SOURCES, rules_file: Path = BUILTIN_RULES, root: Path = ROOT
) -> dict[str, list[str]]:
    """msgid -> where it comes from (paths relative to ``root``), code first, then rules."""
    found: dict[str, list[str]] = {}
    for path in sorted(sources.rglob("*.py")):
        for msgid in _code_strings(path):
            _add(found, msgid, path.relative_to(root).as_posix())
    if rules_file.exists():
        data = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
        for msgid in _rule_templates(data):
            _add(found, msgid, rules_file.relative_to(root).as_posix())
    return found


def _add(found: dict[str, list[str]], msgid: str, where: str) -> None:
    places = found.setdefault(msgid, [])
    if where not in places:
        places.append(where)


def _code_strings(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in sorted(ast.walk(tree), key=_position):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in MARKERS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _rule_templates(data: Any) -> Iterator[str]:
    # Walk the whole document: it only needs to hold rules with message/suggestion keys.
    if isinstance(data, dict):
        for key, value in data.items():
            if key in RULE_TEMPLATE_KEYS and isinstance(value, str) and value.strip():
                yield value
            else:
                yield from _rule_templates(value)
    elif isinstance(data, list):
        for value in data:
            yield from _rule_templates(value)


# -- .po / .pot files --------------------------------------------------------------------


def read_po(path: Path) -> Catalog:
    """Parse a .po file (singular entries only). Fuzzy entries count as untranslated."""
    catalog: Catalog = {}
    for msgid, msgstr, fuzzy in _entries(path.read_text(encoding="utf-8").splitlines()):
        catalog[msgid] = "" if fuzzy and msgid else msgstr
    return catalog


def _entries(lines: Iterable[str]) -> Iterator[tuple[str, str, bool]]:
    fields: dict[str, str] = {}
    current, fuzzy = "", False
    for number, raw in enumerate([*lines, ""], start=1):
        line = raw.strip()
        ends_entry = not line or line.startswith(("#", "msgid "))
        if ends_entry and "msgstr" in fields:
            yield fields["msgid"], fields["msgstr"], fuzzy
            fields, current, fuzzy = {}, "", False
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith('"') and current:
            fields[current] += _unquote(line, number)
        elif line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            if keyword not in ("msgid", "msgstr"):
                raise ValueError(f"line {number}: unsupported .po keyword {keyword!r}")
            current = keyword
            fields[current] = _unquote(rest.strip(), number)


def _unquote(text: str, number: int) -> str:
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"line {number}: expected a quoted string, got {text!r}")
    value = ast.literal_eval(text)  # PO escapes (\n \t \" \\) are a subset of Python's
    if not isinstance(value, str):
        raise ValueError(f"line {number}: expected a quoted string, got {text!r}")
    return value


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    if "\n" not in escaped.rstrip("\n"):
        return '"' + escaped.replace("\n", "\\n") + '"'
    parts = escaped.splitlines(keepends=True)
    return '""\n' + "\n".join('"' + p.replace("\n", "\\n") + '"' for p in parts)


def format_po(language: str, found: dict[str, list[str]], translations: Catalog) -> str:
    """A .po (or, with language "", the .pot) with every msgid of ``found`` in order."""
    chunks = [f'msgid ""\nmsgstr {_quote(header(language or "LANGUAGE"))}\n']
    for msgid, places in found.items():
        refs = "".join(f"#: {place}\n" for place in places)
        msgstr = translations.get(msgid, "") if language else ""
        chunks.append(f"{refs}msgid {_quote(msgid)}\nmsgstr {_quote(msgstr)}\n")
    return "\n".join(chunks)


# -- .mo files ---------------------------------------------------------------------------


def compile_mo(catalog: Catalog) -> bytes:
    """GNU .mo bytes for ``catalog`` (untranslated entries left out, as msgfmt does)."""
    pairs = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in catalog.items() if v or not k)
    count = len(pairs)
    table_start = 7 * 4
    data_start = table_start + 2 * count * 8
    ids, strs = b"", b""
    id_offsets, str_offsets = [], []
    for key, value in pairs:
        id_offsets.append((len(key), len(ids)))
        ids += key + b"\0"
        str_offsets.append((len(value), len(strs)))
        strs += value + b"\0"
    strs_start = data_start + len(ids)
    table = [n for length, off in id_offsets for n in (length, data_start + off)]
    table += [n for length, off in str_offsets for n in (length, strs_start + off)]
    head = struct.pack("<7I", 0x950412DE, 0, count, table_start, table_start + count * 8, 0, 0)
    return head + struct.pack(f"<{len(table)}I", *table) + ids + strs


# -- the command -------------------------------------------------------------------------


def planned() -> dict[Path, bytes]:
    """Every catalog file as it should be now."""
    found = extract()
    files = {POT: format_po("", found, {}).encode("utf-8")}
    for language in TRANSLATED:
        po_path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        old = read_po(po_path) if po_path.exists() else {}
        text = format_po(language, found, old)
        files[po_path] = text.encode("utf-8")
        files[po_path.with_suffix(".mo")] = compile_mo(_parse(text))
    return files


def _parse(text: str) -> Catalog:
    return {m: s for m, s, fuzzy in _entries(text.splitlines()) if not fuzzy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.i18n_extract", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    files = planned()
    stale = [p for p, data in files.items() if not p.exists() or p.read_bytes() != data]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    untranslated = missing_translations()
    for language, msgids in untranslated.items():
        print(f"{language}: {len(msgids)} untranslated", file=sys.stderr)
    return 0


def missing_translations() -> dict[str, list[str]]:
    """Language -> msgids without a translation in its .po."""
    out: dict[str, list[str]] = {}
    for language in TRANSLATED:
        catalog = read_po(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po")
        missing = [m for m, s in catalog.items() if m and not s]
        if missing:
            out[language] = missing
    return out


if __name__ == "__main__":
    sys.exit(main())
