"""`agent rules check [FILE]` and `agent rules list` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli.main import main

GOOD = """\
version: 1
settings: {close_days: 30}
disable: [follow-up]
rules:
  - id: fading-close
    description: Close friends gone quiet for a month.
    match: {tags: [close]}
    when: silence_days > close_days
    severity: alert
    message: "{name}: no contact for {silence_days} days."
    suggestion: "Call {first_name} this week."
"""

BAD = """\
rules:
  - id: broken
    when: silence_days > > 3
    message: "{name}"
  - id: typo
    when: silense_days > 3
    message: "{nmae}"
"""


def make_config(tmp_path: Path, rules: str | None) -> Path:
    lines = [
        "[me]",
        'name = "Ana Example"',
        'emails = ["ana@example.org"]',
        'timezone = "UTC"',
        "[database]",
        f'url = "sqlite:///{tmp_path}/a.db"',
    ]
    if rules is not None:
        (tmp_path / "rules.yaml").write_text(rules)
        lines += ["[rules]", 'files = ["rules.yaml"]']  # relative to the config file
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_config_rule_files(tmp_path: Path) -> None:
    config = make_config(tmp_path, GOOD)
    code, out, _ = run("--config", str(config), "rules", "check")
    assert code == 0
    assert out.startswith("OK: 8 active rules (7 built-in, 1 from files), 19 settings")
    assert str(tmp_path / "rules.yaml") in out


def test_check_without_rule_files_checks_the_builtins(tmp_path: Path) -> None:
    code, out, _ = run("--config", str(make_config(tmp_path, None)), "rules", "check")
    assert code == 0
    assert "OK: 8 active rules (8 built-in, 0 from files)" in out
    assert "built-in rules only" in out


def test_check_a_file_needs_no_config(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD)
    code, out, _ = run("--config", str(tmp_path / "missing.toml"), "rules", "check", str(path))
    assert code == 0, out
    assert out.startswith("OK: 8 active rules")


def test_check_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    code, out, err = run("rules", "check", str(path))
    assert code == 2
    assert out == ""
    assert err.startswith("error: invalid rules\n")
    assert f"{path}: rule 'broken': when: invalid syntax" in err
    assert "(column 16)" in err
    assert f"{path}: rule 'typo': when: unknown name 'silense_days'" in err
    assert f"{path}: rule 'typo': message: unknown field {{nmae}}" in err
    assert "Traceback" not in err


def test_check_bad_config_rule_file_exits_2(tmp_path: Path) -> None:
    config = make_config(tmp_path, BAD)
    code, _, err = run("--config", str(config), "rules", "check")
    assert code == 2
    assert "rule 'broken'" in err


def test_check_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run("rules", "check", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "cannot read" in err


def test_list_table_shows_sources(tmp_path: Path) -> None:
    config = make_config(tmp_path, GOOD)
    code, out, _ = run("--config", str(config), "rules", "list")
    assert code == 0
    # Descriptions wrap to the terminal on indented lines; rule rows start at column 0.
    rows = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert " ".join(out.split("\n", 2)[:2]).split()[:4] == ["ID", "SEVERITY", "SOURCE",
                                                             "DESCRIPTION"]  # fmt: skip
    lines = rows
    ids = [line.split()[0] for line in lines[1:]]
    assert ids == [
        "reply-owed",
        "overdue",
        "fading",
        "not-reciprocating",
        "one-sided",
        "birthday",
        "anniversary",
        "fading-close",
    ]
    assert lines[1].split()[1:3] == ["alert", "builtin"]
    last = lines[-1].split()
    assert last[1:3] == ["alert", str(tmp_path / "rules.yaml")]
    tail = out[out.index("fading-close") :]
    assert "Close friends gone quiet for a month." in " ".join(tail.split())


def test_list_json(tmp_path: Path) -> None:
    config = make_config(tmp_path, GOOD)
    code, out, _ = run("--config", str(config), "rules", "list", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [r["id"] for r in data][-1] == "fading-close"
    mine = data[-1]
    assert mine["source"] == str(tmp_path / "rules.yaml")
    assert mine["severity"] == "alert"
    assert mine["when"] == "silence_days > close_days"
    assert mine["match"] == {"tags": ["close"]}
    assert data[0]["source"] == "builtin"
    assert set(data[0]) >= {"id", "severity", "source", "description"}


def test_list_verbose_shows_settings_and_metrics(tmp_path: Path) -> None:
    config = make_config(tmp_path, GOOD)
    code, out, _ = run("--config", str(config), "rules", "list", "-v")
    assert code == 0
    assert "Settings:" in out and "close_days" in out and "fading_factor" in out
    assert "| `silence_days` |" in out
    code, out, _ = run("--config", str(config), "rules", "list", "-v", "--format", "json")
    assert json.loads(out)["settings"]["close_days"] == 30


@pytest.mark.parametrize("command", ["list", "check"])
def test_bad_config_rules_fail_list_and_check_alike(tmp_path: Path, command: str) -> None:
    config = make_config(tmp_path, "rules: [{id: x}]\n")
    code, _, err = run("--config", str(config), "rules", command)
    assert code == 2
    assert "rule 'x': when: required" in err
