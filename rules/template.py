"""Message and suggestion templates: ``str.format`` syntax over plain names only.

Fields are checked when the rules load (unknown name, attribute or index access, a format spec
that cannot apply), so a typo is reported by `agent rules check`, not in Monday's digest.
Rendering never raises: a missing metric shows as an em dash, a spec that does not fit the
value falls back to a plain rendering.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from rules.expr import BOOL, NUM, TEXT

MISSING = "—"
MAX_TEMPLATE = 1000
# Widths and precisions in a format spec: "{x:>999999999}" would build a gigabyte string.
MAX_SPEC_NUMBER = 40
_SPEC_NUMBERS = re.compile(r"\d+")
_SAMPLES: dict[str, tuple[Any, ...]] = {
    NUM: (1, 1.5),
    TEXT: ("2024-01-01",),
    BOOL: (True,),
}


def check_template(template: Any, kinds: Mapping[str, str]) -> list[str]:
    """Problems with ``template`` given the allowed names and their kinds (empty: fine)."""
    if not isinstance(template, str):
        return ["must be text"]
    if len(template) > MAX_TEMPLATE:
        return [f"longer than {MAX_TEMPLATE} characters"]
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [f"{exc} (write {{{{ and }}}} for literal braces)"]
    problems: list[str] = []
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if conversion not in (None, "s", "r", "a"):
            problems.append(f"field {{{name}}}: unknown conversion !{conversion}")
        problems += _check_field(name, spec or "", kinds)
    return problems


def _check_field(name: str, spec: str, kinds: Mapping[str, str]) -> list[str]:
    if not name.isidentifier():
        return [f"field {{{name}}}: use a plain name like {{name}} or {{silence_days}}"]
    if name not in kinds:
        close = difflib.get_close_matches(name, sorted(kinds), n=1)
        hint = f" (did you mean {{{close[0]}}}?)" if close else ""
        return [f"unknown field {{{name}}}{hint}"]
    if "{" in spec:
        return [f"field {{{name}}}: nested fields in a format spec are not allowed"]
    if not _spec_small(spec):
        return [f"field {{{name}:{spec}}}: width or precision above {MAX_SPEC_NUMBER}"]
    if spec and not _spec_fits(spec, kinds[name]):
        return [f"field {{{name}:{spec}}}: format spec {spec!r} does not fit a {kinds[name]}"]
    return []


def _spec_small(spec: str) -> bool:
    return all(int(n) <= MAX_SPEC_NUMBER for n in _SPEC_NUMBERS.findall(spec))


def _spec_fits(spec: str, kind: str) -> bool:
    for sample in _SAMPLES.get(kind, (1, 1.5, "text")):
        try:
            format(sample, spec)
        except (ValueError, TypeError):
            continue
        return True
    return False


def template_names(template: str) -> Sequence[str]:
    """The field names a (valid) template uses, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


class _Formatter(string.Formatter):
    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        # Only plain names: a translated template is not validated and must not reach
        # attributes (the classic "{x.__class__}" format-string attack).
        if not field_name.isidentifier():
            raise KeyError(field_name)
        return kwargs.get(field_name), field_name

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return MISSING
        if format_spec and _spec_small(format_spec):  # translations are not checked at load
            try:
                return format(value, format_spec)
            except (ValueError, TypeError):
                pass
        return plain(value)


_FORMATTER = _Formatter()


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``template`` from ``values``. Raises ValueError/KeyError only on bad syntax."""
    return _FORMATTER.vformat(template, (), values)


def plain(value: Any) -> str:
    """A readable default: 29.0 -> "29", 0.125 -> "0.13", 123.4 -> "123", True -> "yes"."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return MISSING
        if value.is_integer() or abs(value) >= 10:
            return f"{value:.0f}"
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def safe_render(template: str, fallback: str, values: Mapping[str, Any]) -> str:
    """Render ``template`` (e.g. a translation); if it is broken, render ``fallback``."""
    try:
        return render(template, values)
    except (ValueError, KeyError, IndexError, AttributeError):
        return render(fallback, values)


def allowed_kinds(metric_kinds: Mapping[str, str], settings: Collection[str]) -> dict[str, str]:
    """Every name a template may use: name, first_name, the metrics, the settings."""
    kinds = {"name": TEXT, "first_name": TEXT, **metric_kinds}
    kinds.update({s: NUM for s in settings})
    return kinds
