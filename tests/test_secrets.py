"""Secret sources: a command's first line, an environment variable, a systemd credential."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.config import secrets
from agent.config.secrets import SecretSpec, resolve
from agent.errors import OperationError, UserError

PY = sys.executable


def command(script: str) -> SecretSpec:
    return SecretSpec("command", f"{PY} -c {script!r}")


def test_command_first_line_only() -> None:
    spec = command("print('s3cret'); print('user: ana')")
    assert resolve(spec) == "s3cret"


def test_command_keeps_spaces_and_unicode() -> None:
    assert resolve(command("print(' pä ss ')")) == " pä ss "


def test_command_failure_shows_only_stderrs_first_line() -> None:
    spec = command(
        "import sys; print('LEAKED-STDOUT'); "
        "sys.stderr.write('gpg: decryption failed\\nmore detail\\n'); sys.exit(2)"
    )
    with pytest.raises(OperationError) as info:
        resolve(spec)
    # The message names the command, then only stderr's first line: never stdout.
    assert str(info.value).endswith("' exited with 2: gpg: decryption failed")


def test_command_failure_without_stderr() -> None:
    with pytest.raises(OperationError, match=r"exited with 1$"):
        resolve(command("import sys; sys.exit(1)"))


def test_command_that_prints_nothing() -> None:
    with pytest.raises(OperationError, match="printed nothing"):
        resolve(command("pass"))


def test_command_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "COMMAND_TIMEOUT", 0.3)
    with pytest.raises(OperationError, match="timed out"):
        resolve(command("import time; time.sleep(10)"))


def test_missing_binary_and_bad_quoting() -> None:
    with pytest.raises(OperationError, match="could not run"):
        resolve(SecretSpec("command", "/nonexistent/pass show x"))
    with pytest.raises(OperationError, match="could not run"):
        resolve(SecretSpec("command", "pass show 'unterminated"))


def test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_TEST_SECRET", "from-env")
    assert resolve(SecretSpec("env", "AGENT_TEST_SECRET")) == "from-env"
    monkeypatch.delenv("AGENT_TEST_SECRET")
    with pytest.raises(UserError, match=r"AGENT_TEST_SECRET .* is not set"):
        resolve(SecretSpec("env", "AGENT_TEST_SECRET"))


def test_systemd_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "imap").write_text("cred-pass\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert resolve(SecretSpec("credential", "imap")) == "cred-pass"
    with pytest.raises(UserError, match="cannot read credential 'smtp'"):
        resolve(SecretSpec("credential", "smtp"))
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(UserError, match=r"needs \$CREDENTIALS_DIRECTORY"):
        resolve(SecretSpec("credential", "imap"))


def test_plain() -> None:
    assert resolve(SecretSpec("plain", "hunter2")) == "hunter2"


def test_repr_and_describe_hide_a_plain_password() -> None:
    spec = SecretSpec("plain", "hunter2")
    assert "hunter2" not in repr(spec)
    assert "hunter2" not in spec.describe()
    assert "hunter2" not in repr([spec])
    assert (
        repr(SecretSpec("env", "VAR")) == "SecretSpec(kind='env', value='VAR', purpose='password')"
    )
    assert SecretSpec("command", "pass x").describe() == "password from command 'pass x'"
