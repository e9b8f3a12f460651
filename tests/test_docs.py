"""Documentation that must not drift from the code."""

from __future__ import annotations

from pathlib import Path

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
