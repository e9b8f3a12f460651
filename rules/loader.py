"""Load rule files (YAML) into a RuleSet: the built-ins, then the user's files in order.

Each file may say ``extends: builtin`` (default: build on what came before, which starts as the
shipped rules) or ``extends: none`` (drop everything before it, built-ins included). Then its
``settings`` override earlier ones, its ``rules`` replace rules with the same id in place or are
appended, and ``disable`` removes rules by id. Expressions and templates are compiled once the
final settings are known, so a rule may use a setting defined in a later file.

Every problem in every file is collected and raised together as one UserError naming the file,
the rule id and the problem (exit code 2).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent.config.durations import parse_duration
from agent.config.files import read_regular_file
from agent.core.metrics import METRIC_NAMES
from agent.errors import UserError
from rules.engine import Match, Rule, RuleSet, metric_kinds
from rules.expr import FUNCTIONS, NUM, ExprError, Expression, compile_expr
from rules.findings import SEVERITIES, Severity
from rules.template import allowed_kinds, check_template

BUILTIN = "builtin"
BUILTIN_PATH = Path(__file__).with_name("builtin.yaml")
MAX_FILE_BYTES = 1_000_000
# A rule file is at most four levels deep (rules > rule > match > exclude); libyaml's composer
# recurses per level and crashes the process (SIGSEGV) somewhere past 10,000 levels.
MAX_YAML_DEPTH = 20
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TOP_KEYS = ("version", "extends", "settings", "disable", "rules")
RULE_KEYS = ("id", "description", "match", "when", "severity", "message", "suggestion", "score")
MATCH_KEYS = ("tags", "emails", "domains", "exclude")
RESERVED = frozenset({"name", "first_name", *FUNCTIONS, "True", "False", "None"})


@dataclass
class _Spec:
    """A rule as written, not yet compiled."""

    raw: dict[str, Any]
    source: str


@dataclass
class _State:
    rules: dict[str, _Spec] = field(default_factory=dict)  # insertion order is rule order
    settings: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_rules(files: Iterable[Path | str] = (), *, builtin: bool = True) -> RuleSet:
    """The active rule set: the shipped rules, then each file in order.

    Raises UserError listing every problem (file, rule id, problem). ``builtin=False`` skips
    the shipped rules (tests; a user gets the same with ``extends: none``).
    """
    state = _State()
    if builtin:
        _apply(state, BUILTIN, _read(state, BUILTIN_PATH, BUILTIN))
    for path in files:
        label = str(path)
        state.files.append(label)
        _apply(state, label, _read(state, Path(path), label))
    ruleset = _compile_all(state)
    if state.problems:
        raise UserError("invalid rules", state.problems)
    return ruleset


def load_builtin() -> RuleSet:
    """Only the shipped rules (rules/builtin.yaml)."""
    return load_rules(())


def _read(state: _State, path: Path, label: str) -> dict[str, Any] | None:
    try:
        raw = read_regular_file(path.expanduser(), MAX_FILE_BYTES + 1)
    except OSError as exc:
        state.problems.append(f"{label}: cannot read: {exc.strerror or exc}")
        return None
    if len(raw) > MAX_FILE_BYTES:
        state.problems.append(f"{label}: larger than {MAX_FILE_BYTES} bytes")
        return None
    try:
        data = _parse_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError:
        state.problems.append(f"{label}: not UTF-8 text")
        return None
    except yaml.YAMLError as exc:
        state.problems.append(f"{label}: not valid YAML: {_yaml_problem(exc)}")
        return None
    except _TooDeep as exc:
        state.problems.append(f"{label}: {exc}")
        return None
    if data is None:
        return {}
    if not isinstance(data, dict):
        state.problems.append(f"{label}: expected a mapping with version, settings, rules...")
        return None
    return data


# The C SafeLoader builds the same plain data as yaml.safe_load (no object tags), ten times
# faster: the built-in file is read on every digest and `agent person`.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SAFE_LOADER):  # type: ignore[valid-type,misc]
    """Safe loading that refuses duplicate keys: YAML would silently keep the last ``when``."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _value in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or key == "<<":
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return dict(super().construct_mapping(node, deep))


class _TooDeep(ValueError):
    pass


@functools.lru_cache(maxsize=4)
def _parse_yaml(text: str) -> Any:
    """Parsed once per distinct text; callers never mutate the result."""
    _check_depth(text)
    return yaml.load(text, Loader=_Loader)


def _check_depth(text: str) -> None:
    """Refuse deep nesting before composing: the event parser keeps its own stack."""
    depth = 0
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                mark = event.start_mark
                where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
                raise _TooDeep(f"nested deeper than {MAX_YAML_DEPTH} levels{where}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _yaml_problem(exc: yaml.YAMLError) -> str:
    # Never str(exc): PyYAML quotes the offending lines, and a rules path can be a symlink to
    # a file the reader should not see printed (a key, /etc/shadow).
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot be parsed"
    if mark is None:
        return str(problem)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


def _apply(state: _State, label: str, data: dict[str, Any] | None) -> None:
    """Merge one parsed file into the state, collecting its problems."""
    if data is None:
        return
    problems = state.problems
    for key in data:
        if key not in TOP_KEYS:
            problems.append(f"{label}: unknown key {key!r} (expected {', '.join(TOP_KEYS)})")
    if data.get("version", 1) != 1:
        problems.append(f"{label}: version: only version 1 is supported")
    extends = data.get("extends", BUILTIN)
    if extends not in (BUILTIN, "none"):
        problems.append(f"{label}: extends: must be 'builtin' or 'none', not {extends!r}")
    elif extends == "none":
        state.rules.clear()
        state.settings.clear()
    state.settings.update(_settings(problems, label, data.get("settings")))
    defined = _rules(state, label, data.get("rules"))
    _disable(state, label, data.get("disable"), defined)


def _settings(problems: list[str], label: str, raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{label}: settings: expected a mapping of names to numbers")
        return {}
    out: dict[str, float] = {}
    for name, value in raw.items():
        where = f"{label}: settings: {name}"
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            problems.append(f"{where}: a setting name must be a plain identifier")
        elif name in METRIC_NAMES or name in RESERVED:
            problems.append(f"{where}: {name!r} is a metric or reserved name; pick another")
        else:
            number = _setting_value(value)
            if number is None:
                problems.append(f"{where}: expected a number or a duration like '30d'")
            else:
                out[name] = number
    return out


def _setting_value(value: Any) -> float | None:
    """Numbers as they are; durations ("30d", "6w") as days, since every metric counts days."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) and abs(value) < 1e12 else None
    if isinstance(value, str):
        try:
            return parse_duration(value).total_seconds() / 86400
        except ValueError:
            return None
    return None


def _rules(state: _State, label: str, raw: Any) -> set[str]:
    """Add or replace the file's rules; returns the ids it defined."""
    if raw is None:
        return set()
    if not isinstance(raw, list):
        state.problems.append(f"{label}: rules: expected a list of rules")
        return set()
    defined: set[str] = set()
    for index, item in enumerate(raw, 1):
        rule_id = _rule_id(state.problems, label, index, item)
        if rule_id is None:
            continue
        if rule_id in defined:
            state.problems.append(f"{label}: rule {rule_id!r}: defined twice in this file")
            continue
        defined.add(rule_id)
        state.rules[rule_id] = _Spec(item, label)  # same id: replaced, keeping its position
    return defined


def _rule_id(problems: list[str], label: str, index: int, item: Any) -> str | None:
    if not isinstance(item, dict):
        problems.append(f"{label}: rule #{index}: expected a mapping with id, when, message...")
        return None
    rule_id = item.get("id")
    if not isinstance(rule_id, str) or not ID_PATTERN.match(rule_id):
        problems.append(
            f"{label}: rule #{index}: id: required, letters, digits, '-', '_' or '.' "
            f"(got {rule_id!r})"
        )
        return None
    return rule_id


def _disable(state: _State, label: str, raw: Any, defined: set[str]) -> None:
    if raw is None:
        return
    ids = [raw] if isinstance(raw, str) else raw
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        state.problems.append(f"{label}: disable: expected a list of rule ids")
        return
    for rule_id in ids:
        if rule_id in defined:
            state.problems.append(f"{label}: disable: {rule_id!r} is also defined in this file")
        elif rule_id not in state.rules:
            known = ", ".join(state.rules) or "none"
            state.problems.append(f"{label}: disable: no rule {rule_id!r} (active: {known})")
        else:
            del state.rules[rule_id]


# --- compiling -----------------------------------------------------------------------------


def _compile_all(state: _State) -> RuleSet:
    kinds = {**metric_kinds(), **{s: NUM for s in state.settings}}
    template_kinds = allowed_kinds(metric_kinds(), state.settings)
    rules = []
    for rule_id, spec in state.rules.items():
        rule = _compile_rule(state.problems, rule_id, spec, kinds, template_kinds)
        if rule is not None:
            rules.append(rule)
    return RuleSet(tuple(rules), dict(state.settings), tuple(state.files))


def _compile_rule(
    problems: list[str],
    rule_id: str,
    spec: _Spec,
    kinds: dict[str, str],
    template_kinds: dict[str, str],
) -> Rule | None:
    raw, where = spec.raw, f"{spec.source}: rule {rule_id!r}"
    before = len(problems)
    for key in raw:
        if key not in RULE_KEYS:
            problems.append(f"{where}: unknown key {key!r} (expected {', '.join(RULE_KEYS)})")
    when = _expression(problems, where, "when", raw.get("when"), kinds, required=True)
    score = _expression(problems, where, "score", raw.get("score"), kinds, required=False)
    severity = _severity(raw.get("severity", "warning"))
    if severity is None:
        problems.append(f"{where}: severity: must be one of {', '.join(SEVERITIES)}")
    texts = {k: _text(problems, where, k, raw, template_kinds) for k in _TEXT_KEYS}
    match = _match(problems, where, raw.get("match"))
    if len(problems) > before or when is None or severity is None:
        return None
    return Rule(
        id=rule_id,
        when=when,
        severity=severity,
        match=match,
        score=score,
        source=spec.source,
        **texts,
    )


_TEXT_KEYS = ("message", "suggestion", "description")


def _severity(value: object) -> Severity | None:
    return next((s for s in SEVERITIES if s == value), None)


def _expression(
    problems: list[str],
    where: str,
    key: str,
    raw: Any,
    kinds: dict[str, str],
    required: bool,
) -> Expression | None:
    if raw is None:
        if required:
            problems.append(f"{where}: {key}: required (an expression over the metrics)")
        return None
    if isinstance(raw, bool | int | float):
        raw = str(raw)  # "when: true" is YAML's boolean; the expression True is meant
    if not isinstance(raw, str):
        problems.append(f"{where}: {key}: expected an expression as text")
        return None
    try:
        return compile_expr(raw, kinds.keys(), kinds)
    except ExprError as exc:
        problems.append(f"{where}: {key}: {exc}")
        return None


def _text(
    problems: list[str], where: str, key: str, raw: dict[str, Any], kinds: dict[str, str]
) -> str:
    value = raw.get(key)
    if value is None:
        if key == "message":
            problems.append(f"{where}: message: required (what the digest says)")
        return ""
    if key == "description":
        if not isinstance(value, str):
            problems.append(f"{where}: description: must be text")
            return ""
        return " ".join(value.split())
    for problem in check_template(value, kinds):
        problems.append(f"{where}: {key}: {problem}")
    return value.strip() if isinstance(value, str) else ""


def _match(problems: list[str], where: str, raw: Any) -> Match:
    if raw is None:
        return Match()
    if not isinstance(raw, dict):
        problems.append(f"{where}: match: expected a mapping with {', '.join(MATCH_KEYS)}")
        return Match()
    for key in raw:
        if key not in MATCH_KEYS:
            problems.append(f"{where}: match: unknown key {key!r}")
    exclude = raw.get("exclude") or {}
    if isinstance(exclude, list | str):
        exclude = {"emails": exclude}  # a bare list excludes addresses (globs allowed)
    if not isinstance(exclude, dict) or any(k not in MATCH_KEYS[:3] for k in exclude):
        problems.append(f"{where}: match: exclude: expected a mapping with tags, emails, domains")
        exclude = {}
    lists = {k: _strings(problems, f"{where}: match: {k}", raw.get(k)) for k in MATCH_KEYS[:3]}
    excl = {k: _strings(problems, f"{where}: match: exclude: {k}", exclude.get(k)) for k in lists}
    return Match(
        tags=lists["tags"],
        emails=lists["emails"],
        domains=_domains(lists["domains"]),
        exclude_tags=excl["tags"],
        exclude_emails=excl["emails"],
        exclude_domains=_domains(excl["domains"]),
    )


def _strings(problems: list[str], where: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    items: Sequence[Any] = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        problems.append(f"{where}: expected a list of text")
        return ()
    return tuple(i.strip().lower() for i in items)


def _domains(domains: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(d.removeprefix("*.").lstrip("@") for d in domains)
