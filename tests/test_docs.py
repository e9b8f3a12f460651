"""Documentation that must not drift from the code."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import click
import pytest

from agent.core.metrics import markdown_table

ROOT = Path(__file__).resolve().parents[1]


def test_readme_metric_table_matches_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- metrics:start -->") + len("<!-- metrics:start -->")
    end = readme.index("<!-- metrics:end -->")
    assert readme[start:end].strip() == markdown_table().strip()


def test_example_config_is_valid() -> None:
    from agent.config.settings import load_config

    config = load_config(str(ROOT / "config.example.toml"))
    assert config.me.emails
    assert {a.type for a in config.accounts} == {"imap", "maildir"}


def test_readme_config_table_matches_the_declarations() -> None:
    from agent.config.settings import reference

    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- config:start -->") + len("<!-- config:start -->")
    end = readme.index("<!-- config:end -->")
    assert readme[start:end].strip() == reference().strip()


def _example_keys() -> dict[str, set[str]]:
    """Every key config.example.toml shows, set or commented out, per table."""
    found: dict[str, set[str]] = {}
    table = ""
    for line in (ROOT / "config.example.toml").read_text().splitlines():
        header = re.match(r"^[#\s]*\[\[?([a-z_]+)\]\]?\s*(#.*)?$", line)
        if header:
            table = header.group(1)
            continue
        setting = re.match(r"^[#\s]*([a-z_0-9]+)\s*=", line)
        if setting and table:
            found.setdefault(table, set()).add(setting.group(1))
    return found


def test_example_config_shows_every_declared_key_and_no_other() -> None:
    from agent.config.keys import toml_names
    from agent.config.settings import TABLES

    shown = _example_keys()
    for name, cls, _ in TABLES:
        if cls is dict:  # [cadence]: any tag
            continue
        assert shown.get(name, set()) == set(toml_names(cls)), name


def test_example_config_loads_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    from agent.config.settings import load_config

    with caplog.at_level(logging.WARNING):
        load_config(str(ROOT / "config.example.toml"))
    assert [r.getMessage() for r in caplog.records] == []


def _commands() -> list[tuple[str, click.Command]]:
    from agent.cli.main import main

    found: list[tuple[str, click.Command]] = []

    def walk(cmd: click.Command, path: str) -> None:
        found.append((path, cmd))
        if isinstance(cmd, click.Group):
            for name, sub in sorted(cmd.commands.items()):
                walk(sub, f"{path} {name}".strip())

    walk(main, "")
    return found


def _command_rows() -> dict[str, str]:
    """README's command table: each row under the `agent` command paths it names."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Commands") : readme.index("## Configuration")]
    rows: dict[str, str] = {"": section.split("| command |")[0]}  # the line about `agent`
    for line in (row for row in section.splitlines() if row.startswith("| `agent")):
        for name in re.findall(r"`agent ([a-z][a-z ]*?)(?: [A-Z\[]|`)", line):
            rows[name.strip()] = line
    return rows


def test_every_command_and_option_is_in_the_readme_with_help() -> None:
    rows = _command_rows()
    for path, cmd in _commands():
        assert cmd.help, f"`agent {path}` has no help text"
        if isinstance(cmd, click.Group) and path:
            continue  # a group's row is its commands' rows
        assert path in rows, f"`agent {path}` is missing from README's command table"
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert param.help, f"`agent {path} {param.opts[0]}` has no help text"
                assert any(o in rows[path] for o in param.opts), (path, param.opts)
                choices = {str(c) for c in getattr(param.type, "choices", ())}
                if choices:
                    shown = re.search(re.escape(param.opts[-1]) + r" ([\w.\\|-]+)", rows[path])
                    listed = set(re.split(r"\\?\|", shown.group(1))) if shown else set()
                    assert listed == choices, (path, param.opts, listed, choices)
            elif isinstance(param, click.Argument):
                assert param.human_readable_name.upper() in rows[path], (path, param.name)


def test_the_layout_table_names_every_module_in_its_folder() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## How the code is laid out") : readme.index("## Development")]
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([a-z/_]+)/` \| (.*) \|$", section, re.MULTILINE)
    }
    for package in ("agent", "connectors", "rules"):
        for path in sorted((ROOT / package).rglob("*.py")):
            folder = path.parent.relative_to(ROOT).as_posix()
            if path.name == "__init__.py" or folder.startswith("agent/cli/commands"):
                continue  # a package's face; commands/ is named as one
            if folder == "agent/digest/render":
                continue  # named as render/
            assert folder in rows, f"{folder}/ has no row in README's layout table"
            assert f"`{path.name}`" in rows[folder], f"{path.relative_to(ROOT)} is not in its row"
