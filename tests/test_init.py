"""`agent init`: from nothing to a config, a tested login, a first sync and a digest.

The bundled sample mailbox served by a real Dovecot stands in for the user's server, as a
new user would meet it: the README's `agent init`, then `agent digest`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from agent.cli.main import main
from agent.config.providers import BY_KEY, guess
from agent.config.settings import load_config
from agent.sample import AS_OF, write_sample
from tests.servers.dovecot import DovecotServer
from tests.test_acceptance import copy_into_dovecot

ENV = "AGENT_INIT_TEST_PASSWORD"


def agent(config: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], input=input)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.mark.dovecot
def test_from_init_to_a_first_digest_against_a_real_server(
    home: Path, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_sample(home / "sample")
    copy_into_dovecot(home / "sample" / "Maildir", dovecot)
    monkeypatch.setenv(ENV, dovecot.password)
    config = home / "agent" / "config.toml"
    result = agent(
        config, "init", "--yes", "--name", "Ana Example", "--email", "ana@example.org",
        "--email", "ana.private@example.net", "--timezone", "Europe/Berlin",
        "--provider", "custom", "--host", dovecot.host, "--port", str(dovecot.port),
        "--security", "none", "--username", dovecot.user, "--password-env", ENV, "--sync",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote {config}" in result.output and "mail: ok: " in result.output
    assert "new messages" in result.output
    assert config.stat().st_mode & 0o077 == 0  # private: it names the mail account
    loaded = load_config(str(config))
    assert loaded.accounts[0].secret is not None and loaded.accounts[0].secret.kind == "env"
    assert dovecot.password not in config.read_text()
    digest = agent(config, "digest", "--as-of", AS_OF.isoformat(), "--format", "json")
    assert digest.exit_code == 0, digest.output
    assert json.loads(digest.output)["findings"]


def test_interactive_answers_with_a_known_provider(home: Path) -> None:
    config = home / "config.toml"
    answers = "\n".join([
        "Ana Example",            # name
        "ana@gmail.com",          # addresses
        "Europe/Rome",            # time zone
        "it",                     # language
        "",                       # provider: gmail, guessed from the address
        "",                       # login name: the address
        "command",                # how the password comes
        "pass show google/app",   # the command
        "",                       # no calendar
        "ana@gmail.com",          # digest to
        "n",                      # no first sync
    ]) + "\n"  # fmt: skip
    result = agent(config, "init", "--no-check", input=answers)
    assert result.exit_code == 0, result.output
    assert "app password" in result.output  # Gmail's own rule, said before it is asked
    loaded = load_config(str(config))
    account = loaded.accounts[0]
    assert (account.host, account.port, account.security) == ("imap.gmail.com", 993, "ssl")
    assert account.username == "ana@gmail.com" and loaded.me.language == "it"
    assert loaded.smtp is not None and loaded.smtp.host == "smtp.gmail.com"
    assert loaded.smtp.secret == account.secret and loaded.digest.to == "ana@gmail.com"


def test_an_existing_config_is_never_replaced_unasked(home: Path) -> None:
    config = home / "config.toml"
    config.write_text("# mine\n")
    args = ["init", "--yes", "--email", "ana@example.org", "--maildir", str(home), "--no-check"]
    result = agent(config, *args)
    assert result.exit_code == 2 and "--force" in result.output
    assert agent(config, "init", "--no-check", input="n\n").exit_code == 2
    assert config.read_text() == "# mine\n"
    assert agent(config, *args, "--force").exit_code == 0
    assert load_config(str(config)).accounts[0].type == "maildir"


def test_scripts_get_an_error_naming_the_missing_flag(home: Path) -> None:
    config = home / "config.toml"
    result = agent(config, "init", "--yes", "--provider", "custom", "--email", "a@b.org")
    assert result.exit_code == 2 and "--host" in result.output
    result = agent(config, "init", "--yes", "--provider", "fastmail", "--email", "a@fastmail.com")
    assert result.exit_code == 2 and "--password-command" in result.output
    assert not config.exists()


def test_a_failed_login_keeps_the_config_and_says_how_to_go_on(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "secret")
    config = home / "config.toml"
    result = agent(
        config, "init", "--yes", "--email", "ana@example.org", "--provider", "custom",
        "--host", "127.0.0.1", "--port", "1", "--security", "none", "--password-env", ENV,
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "agent check" in result.output
    assert result.output.count("cannot connect") == 1
    assert load_config(str(config)).accounts[0].port == 1


def test_providers_are_guessed_from_the_address() -> None:
    assert guess("x@googlemail.com") == "gmail" and guess("x@hotmail.com") == "outlook"
    assert guess("x@web.de") == "webde" and guess("x@example.org") == "custom"
    assert all(p.imap.port == 993 and p.imap.security == "ssl" for p in BY_KEY.values())
