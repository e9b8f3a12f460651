"""Loading rule files: built-ins, extends, settings, disable, replacement, match, every error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agent.core.person import Person
from agent.errors import UserError
from rules import loader
from rules.loader import BUILTIN_PATH, load_builtin, load_rules

BUILTIN_IDS = (
    "reply-owed", "follow-up", "overdue", "fading", "not-reciprocating", "one-sided", "birthday",
    "anniversary",
)  # fmt: skip


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(*files: Path) -> list[str]:
    with pytest.raises(UserError) as info:
        load_rules(files)
    assert info.value.exit_code == 2
    return info.value.problems


def test_builtin_rules_load_in_order_with_settings() -> None:
    ruleset = load_builtin()
    assert ruleset.ids == BUILTIN_IDS
    assert all(r.source == "builtin" for r in ruleset.rules)
    assert ruleset.settings["fading_factor"] == 2.5
    assert ruleset.settings["min_fading_days"] == 30
    assert all(r.description and r.message and r.suggestion for r in ruleset.rules)


def test_user_file_overrides_settings_and_adds_a_rule(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        settings:
          fading_factor: 2
          close_days: 30d
        rules:
          - id: fading-close
            description: Close friends gone quiet for a month.
            match: {tags: [close]}
            when: silence_days > close_days
            severity: alert
            message: "{name}: no contact for {silence_days} days."
            suggestion: "Call {first_name} this week."
        """,
    )
    ruleset = load_rules([path])
    assert ruleset.ids == (*BUILTIN_IDS, "fading-close")
    assert ruleset.settings["fading_factor"] == 2
    assert ruleset.settings["close_days"] == 30.0  # durations become days
    rule = ruleset.get("fading-close")
    assert rule is not None
    assert rule.source == str(path)
    assert rule.severity == "alert"
    assert rule.match.tags == ("close",)
    assert ruleset.files == (str(path),)


def test_reusing_a_builtin_id_replaces_it_in_place(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        rules:
          - id: fading
            when: silence_days > 100
            message: "{name} has gone quiet."
        """,
    )
    ruleset = load_rules([path])
    assert ruleset.ids == BUILTIN_IDS
    rule = ruleset.get("fading")
    assert rule is not None
    assert rule.source == str(path)
    assert rule.when.source == "silence_days > 100"
    assert rule.severity == "warning"  # the default


def test_disable_removes_builtin_rules(tmp_path: Path) -> None:
    path = write(tmp_path, "disable: [follow-up, one-sided]\n")
    expected = ("reply-owed", "overdue", "fading", "not-reciprocating", "birthday", "anniversary")
    assert load_rules([path]).ids == expected


def test_disable_accepts_a_single_id(tmp_path: Path) -> None:
    path = write(tmp_path, "disable: follow-up\n")
    assert "follow-up" not in load_rules([path]).ids


def test_extends_none_starts_empty(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        extends: none
        settings: {quiet: 45}
        rules:
          - id: quiet
            when: silence_days > quiet
            message: "{name} is quiet."
        """,
    )
    ruleset = load_rules([path])
    assert ruleset.ids == ("quiet",)
    assert dict(ruleset.settings) == {"quiet": 45}


def test_extends_none_cannot_use_builtin_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        extends: none
        rules:
          - id: quiet
            when: silence_days > min_fading_days
            message: "{name} is quiet."
        """,
    )
    assert any("unknown name 'min_fading_days'" in p for p in problems_of(path))


def test_later_files_build_on_earlier_ones(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        """
        rules:
          - id: mine
            when: silence_days > later_setting
            message: "{name}"
        """,
        "a.yaml",
    )
    second = write(tmp_path, "settings: {later_setting: 12}\ndisable: [fading]\n", "b.yaml")
    ruleset = load_rules([first, second])
    assert "mine" in ruleset.ids and "fading" not in ruleset.ids
    assert ruleset.settings["later_setting"] == 12


def test_empty_file_changes_nothing(tmp_path: Path) -> None:
    assert load_rules([write(tmp_path, "")]).ids == BUILTIN_IDS


def test_builtin_false_skips_the_shipped_rules(tmp_path: Path) -> None:
    path = write(tmp_path, "rules: [{id: x, when: silence_days > 1, message: hi}]\n")
    assert load_rules([path], builtin=False).ids == ("x",)


def test_when_yaml_boolean_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "rules: [{id: x, when: true, message: hi}]\n")
    assert load_rules([path]).get("x") is not None


def test_match_selectors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        rules:
          - id: work
            match:
              domains: ["@Work.example"]
              emails: ["*@work.example", "*@lab.work.example"]
              exclude: {tags: [family], emails: [boss@work.example]}
            when: silence_days > 1
            message: hi
          - id: tagged
            match: {tags: [Close, mentor], exclude: [ex@old.example]}
            when: silence_days > 1
            message: hi
        """,
    )
    ruleset = load_rules([path])
    work, tagged = ruleset.get("work"), ruleset.get("tagged")
    assert work is not None and tagged is not None

    def person(email: str, *tags: str) -> Person:
        return Person(1, "P", (email,), tags)

    assert work.match.applies(person("ann@work.example"))
    assert work.match.applies(person("ann@lab.work.example"))  # subdomain
    assert not work.match.applies(person("ann@other.example"))
    assert not work.match.applies(person("ann@work.example", "family"))
    assert not work.match.applies(person("Boss@work.example"))
    assert tagged.match.applies(person("x@y.example", "close"))
    assert tagged.match.applies(person("x@y.example", "Mentor"))
    assert not tagged.match.applies(person("x@y.example"))
    assert not tagged.match.applies(person("ex@old.example", "close"))
    assert tagged.match.to_json() == {
        "tags": ["close", "mentor"],
        "exclude_emails": ["ex@old.example"],
    }


# --- every error path ------------------------------------------------------------------------

RULE_ERRORS = [
    ("when: silence_days >> 3", "when: operator >> is not allowed"),
    ("when: silence_days >", "when: invalid syntax"),
    ("when: silence_days > > 3", "(column 16)"),
    ("when: silence_dayz > 3", "unknown name 'silence_dayz' (did you mean 'silence_days'?)"),
    ("when: person.name == 'x'", "attribute access"),
    ("when: __import__('os')", "only min, max, abs may be called"),
    ("when: 9**9**9 > silence_days", "too large"),
    ("when: last_contact + 1 > 3", "arithmetic needs numbers"),
    ("when: '[1, 2]'", "not allowed"),
    ("when: [1, 2]", "when: expected an expression as text"),
    ("when: {a: 1}", "when: expected an expression as text"),
    ("score: silence_days.real\n    when: silence_days > 1", "score: not allowed"),
    ("when: silence_days > 1\n    severity: urgent", "severity: must be one of"),
    ("when: silence_days > 1\n    frobnicate: 1", "unknown key 'frobnicate'"),
    ("message: x", "when: required"),
    (
        "when: silence_days > 1\n    message: '{nmae}'",
        "unknown field {nmae} (did you mean {name}?)",
    ),
    ("when: silence_days > 1\n    message: '{name.__class__}'", "use a plain name"),
    ("when: silence_days > 1\n    message: '{name[0]}'", "use a plain name"),
    ("when: silence_days > 1\n    message: '{}'", "use a plain name"),
    ("when: silence_days > 1\n    message: '{0}'", "use a plain name"),
    ("when: silence_days > 1\n    message: 'a {'", "literal braces"),
    ("when: silence_days > 1\n    message: '{last_contact:.0f}'", "does not fit a text"),
    ("when: silence_days > 1\n    message: '{silence_days:{x}}'", "nested fields"),
    ("when: silence_days > 1\n    message: '{name!z}'", "unknown conversion"),
    # A gigabyte-wide field would be built at load (checking the spec) and in every digest.
    ("when: silence_days > 1\n    message: '{silence_days:>999999999}'", "width or precision"),
    ("when: silence_days > 1\n    message: '{silence_days:.99999999f}'", "width or precision"),
    ("when: silence_days > 1\n    message: [a]", "message: must be text"),
    ("when: silence_days > 1\n    suggestion: '{bogus}'", "suggestion: unknown field {bogus}"),
    ("when: silence_days > 1\n    description: [a]", "description: must be text"),
    ("when: silence_days > 1\n    match: [close]", "match: expected a mapping"),
    ("when: silence_days > 1\n    match: {tag: [close]}", "match: unknown key 'tag'"),
    ("when: silence_days > 1\n    match: {tags: 3}", "match: tags: expected a list of text"),
    ("when: silence_days > 1\n    match: {exclude: 3}", "exclude: expected a mapping"),
    ("when: silence_days > 1\n    match: {exclude: {x: [a]}}", "exclude: expected a mapping"),
]


@pytest.mark.parametrize(("body", "expected"), RULE_ERRORS)
def test_rule_errors_name_file_rule_and_problem(tmp_path: Path, body: str, expected: str) -> None:
    text = "rules:\n  - id: my-rule\n    " + body + "\n"
    if "message:" not in body:
        text += "    message: hi\n"
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert any(p.startswith(f"{path}: rule 'my-rule': ") and expected in p for p in problems), (
        problems
    )


FILE_ERRORS = [
    ("rules: [\n", "not valid YAML"),
    ("key: [unclosed\nother: 1\n", "(line"),
    ("- a\n- b\n", "expected a mapping"),
    ("version: 2\n", "version: only version 1"),
    ("extends: mine\n", "extends: must be 'builtin' or 'none'"),
    ("rulez: []\n", "unknown key 'rulez'"),
    ("settings: [1]\n", "settings: expected a mapping"),
    ("settings: {x: abc}\n", "settings: x: expected a number or a duration"),
    ("settings: {x: true}\n", "settings: x: expected a number"),
    ("settings: {x: .inf}\n", "settings: x: expected a number"),
    ("settings: {silence_days: 3}\n", "metric or reserved name"),
    ("settings: {max: 3}\n", "metric or reserved name"),
    ("settings: {first_name: 3}\n", "metric or reserved name"),
    ("settings: {'a b': 3}\n", "plain identifier"),
    ("rules: {id: x}\n", "rules: expected a list"),
    ("rules: [3]\n", "rule #1: expected a mapping"),
    ("rules: [{when: silence_days > 1, message: hi}]\n", "rule #1: id: required"),
    ("rules: [{id: 'bad id!', when: silence_days > 1, message: hi}]\n", "rule #1: id:"),
    ("disable: [nope]\n", "disable: no rule 'nope'"),
    ("disable: {a: 1}\n", "disable: expected a list of rule ids"),
    (
        "disable: [x]\nrules: [{id: x, when: silence_days > 1, message: hi}]\n",
        "'x' is also defined in this file",
    ),
    (
        "rules:\n  - {id: x, when: silence_days > 1, message: hi}\n"
        "  - {id: x, when: silence_days > 2, message: hi}\n",
        "rule 'x': defined twice",
    ),
]


@pytest.mark.parametrize(("text", "expected"), FILE_ERRORS)
def test_file_errors_name_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert any(p.startswith(f"{path}: ") and expected in p for p in problems), problems


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert problems_of(missing) == [f"{missing}: cannot read: No such file or directory"]


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00rules")
    assert "not UTF-8" in problems_of(path)[0]


def test_too_large_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 10)
    path = write(tmp_path, "settings: {a: 1, b: 2}\n")
    assert "larger than 10 bytes" in problems_of(path)[0]


def test_yaml_alias_bomb_is_harmless(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for name, prev in zip("bcdefgh", "abcdefg", strict=True):
        bomb += f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    bomb += "rules: *h\n"
    path = write(tmp_path, bomb)
    assert problems_of(path)  # rejected quickly, nothing expanded


def test_every_problem_in_every_file_is_reported_together(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        """
        version: 3
        rules:
          - id: one
            when: silence_days >
            message: hi
          - id: two
            when: silence_days > 1
            severity: loud
            message: "{nope}"
        """,
        "a.yaml",
    )
    second = write(tmp_path, "disable: [ghost]\n", "b.yaml")
    with pytest.raises(UserError) as info:
        load_rules([first, second])
    text = str(info.value)
    assert text.startswith("invalid rules")
    assert len(info.value.problems) == 5
    for fragment in ("version", "rule 'one': when", "rule 'two': severity", "{nope}", "ghost"):
        assert fragment in text


def test_builtin_file_is_packaged_next_to_the_loader() -> None:
    assert BUILTIN_PATH.name == "builtin.yaml" and BUILTIN_PATH.exists()


@pytest.mark.parametrize("depth", [30, 200_000])
def test_deeply_nested_yaml_is_refused_without_crashing(tmp_path: Path, depth: int) -> None:
    # libyaml's composer recursed until the process died (SIGSEGV) on 100,000 levels.
    path = write(tmp_path, "rules: " + "[" * depth + "]" * depth + "\n")
    [problem] = problems_of(path)
    # Refused, the file and line named. Which layer refuses (our depth check, or PyYAML's own
    # limit since 6.0.4, which reads ahead) and its wording are not ours to pin.
    assert problem.startswith(f"{path}: ")
    assert "nest" in problem and "(line 1, column" in problem


def test_block_style_nesting_is_bounded_too(tmp_path: Path) -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(25)) + "  " * 25 + "x\n"
    assert "nested deeper than 20 levels" in problems_of(write(tmp_path, text))[0]


def test_duplicate_keys_are_an_error_not_last_one_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        rules:
          - id: quiet
            when: silence_days > 30
            message: hi
            when: silence_days > 3000
        """,
    )
    [problem] = problems_of(path)
    assert problem == f"{path}: not valid YAML: duplicate key 'when' (line 6, column 5)"


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        base: &base {severity: info, message: "{name} is quiet."}
        rules:
          - <<: *base
            id: quiet
            when: silence_days > 30
        """,
    )
    assert "unknown key 'base'" in problems_of(path)[0]  # merge worked; 'base' is the problem


def test_the_readme_rule_example_is_valid(tmp_path: Path) -> None:
    readme = (BUILTIN_PATH.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## Rules\n") :]
    example = section[section.index("```yaml\n") + 8 : section.index("\n```\n")]
    ruleset = load_rules([write(tmp_path, example)])
    assert "fading-close" in ruleset.ids and "one-sided" not in ruleset.ids
    assert ruleset.settings["fading_factor"] == 3
