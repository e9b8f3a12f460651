"""`agent digest` on the bundled sample mailbox: print in every format, send by real SMTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent.cli.main import main
from agent.sample import AS_OF, write_sample
from agent.store.database import Store
from tests.servers.common import free_port
from tests.servers.smtp import SmtpServer, part_text

DAY = AS_OF.isoformat()


def sample_config(root: Path, language: str = "en", smtp_port: int | None = None) -> Path:
    config = write_sample(root, language)
    if smtp_port is not None:
        with config.open("a", encoding="utf-8") as out:
            out.write(
                f'\n[digest]\nto = "ana@example.org"\nevery = "monday 08:00"\n'
                f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
                'from = "agent@example.org"\n'
            )
    result = agent(config, "sync")
    assert result.exit_code == 0, result.output
    return config


def agent(config: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(config), *args])


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_config(tmp_path_factory.mktemp("sample"))


def test_json_follows_the_contract(sample: Path) -> None:
    result = agent(sample, "digest", "--as-of", DAY, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["as_of"] == DAY
    assert {"people", "active_90d"} <= set(data["summary"])
    rules = [f["rule"] for f in data["findings"]]
    assert {"fading", "one-sided", "reply-owed"} <= set(rules)
    carla = next(f for f in data["findings"] if f["person"]["name"] == "Carla Diaz")
    assert set(carla) == {"number", "rule", "severity", "person", "message", "suggestion",
                          "evidence"}  # fmt: skip


def test_text_is_the_default_and_is_reproducible(sample: Path) -> None:
    first = agent(sample, "digest", "--as-of", DAY)
    assert first.exit_code == 0, first.output
    assert first.output.startswith(f"Your relationship digest — {DAY}\n")
    assert "Fading (" in first.output and "Reply owed (" in first.output
    assert agent(sample, "digest", "--as-of", DAY).output == first.output


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_other_formats(sample: Path, fmt: str) -> None:
    result = agent(sample, "digest", "--as-of", DAY, "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "Carla Diaz" in result.output


def test_german_digest(tmp_path: Path) -> None:
    result = agent(sample_config(tmp_path, "de"), "digest", "--as-of", DAY)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Dein Beziehungs-Überblick — {DAY}")
    assert "Verblassend (" in result.output


@pytest.mark.smtp
def test_send_delivers_and_records(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = sample_config(tmp_path, smtp_port=smtp_server.port)
    result = agent(config, "digest", "--as-of", DAY, "--send")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("digest sent to ana@example.org: ")
    [msg] = smtp_server.messages
    assert msg["Auto-Submitted"] == "auto-generated"
    assert "Carla Diaz" in part_text(msg, "plain")
    store = Store.open(f"sqlite:///{tmp_path}/agent.db")
    try:
        last = store.last_digest()
    finally:
        store.close()
    assert last is not None and last["message_id"] == msg["Message-ID"]


def test_send_with_smtp_down_exits_1_and_records_nothing(tmp_path: Path) -> None:
    config = sample_config(tmp_path, smtp_port=free_port())
    result = agent(config, "digest", "--send")
    assert result.exit_code == 1
    assert "cannot reach SMTP server 127.0.0.1:" in result.output
    assert "Traceback" not in result.output
    store = Store.open(f"sqlite:///{tmp_path}/agent.db")
    try:
        assert store.last_digest() is None
    finally:
        store.close()


@pytest.mark.smtp
def test_send_refused_by_smtp_exits_1_and_records_nothing(
    tmp_path: Path, smtp_refusing_server: SmtpServer
) -> None:
    config = sample_config(tmp_path, smtp_port=smtp_refusing_server.port)
    result = agent(config, "digest", "--send")
    assert result.exit_code == 1, result.output
    assert "refused ana@example.org: 550 5.7.1 Relaying denied" in result.output
    assert "Traceback" not in result.output and "digest sent" not in result.output
    store = Store.open(f"sqlite:///{tmp_path}/agent.db")
    try:
        assert store.last_digest() is None
    finally:
        store.close()


def test_person_flagged_twice_appears_once_in_the_printed_digest(sample: Path) -> None:
    text = agent(sample, "digest", "--as-of", DAY).output
    data = json.loads(agent(sample, "digest", "--as-of", DAY, "--format", "json").output)
    names = [f["person"]["name"] for f in data["findings"]]
    twice = {n for n in names if names.count(n) > 1}
    assert twice  # the sample has someone flagged by two rules (Eve: reply owed, not reciprocating)
    for name in twice:
        assert text.count(f"{name} <") == 1
    assert "Also: " in text


def test_send_without_smtp_config_is_a_usage_error(sample: Path) -> None:
    result = agent(sample, "digest", "--send")
    assert result.exit_code == 2
    assert "[smtp]" in result.output


def test_format_with_send_is_a_usage_error(sample: Path) -> None:
    result = agent(sample, "digest", "--send", "--format", "json")
    assert result.exit_code == 2
    assert "--format only applies to printing" in result.output
