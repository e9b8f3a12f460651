"""Secrets come from a command, an environment variable, a systemd credential or the config file.

The file is discouraged: it is the one place a plain password is written down.

A resolved secret is never logged and never stored; only the *source* is named in messages.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.config.files import read_regular_file
from agent.errors import OperationError, UserError

SecretKind = Literal["command", "env", "credential", "plain"]
OAUTH2_TOKEN = "OAuth2 token"  # SecretSpec.purpose for oauth2_token_command: log in with XOAUTH2
COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class SecretSpec:
    """Where a secret comes from.

    ``kind`` says where; ``value`` is the command, variable or credential name (or, for
    "plain", the secret itself, which repr() hides).
    """

    kind: SecretKind
    value: str
    purpose: str = "password"

    def describe(self) -> str:
        if self.kind == "plain":
            return f"{self.purpose} from the config file"
        return f"{self.purpose} from {self.kind} {self.value!r}"

    def __repr__(self) -> str:  # keep plain passwords out of reprs, logs and tracebacks
        shown = "***" if self.kind == "plain" else self.value
        return f"SecretSpec(kind={self.kind!r}, value={shown!r}, purpose={self.purpose!r})"


def resolve(spec: SecretSpec) -> str:
    """Return the secret. Raises OperationError (command failed) or UserError (missing source)."""
    if spec.kind == "plain":
        return spec.value
    if spec.kind == "env":
        return _from_env(spec)
    if spec.kind == "credential":
        return _from_credential(spec)
    return _from_command(spec)


def _from_env(spec: SecretSpec) -> str:
    value = os.environ.get(spec.value)
    if value is None:
        raise UserError(f"environment variable {spec.value} for the {spec.purpose} is not set")
    return value


MAX_CREDENTIAL_BYTES = 64 * 1024


def _from_credential(spec: SecretSpec) -> str:
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise UserError(
            f"{spec.purpose}: credential {spec.value!r} needs $CREDENTIALS_DIRECTORY "
            "(set by systemd's LoadCredential=)"
        )
    # A credential is a file name inside the directory systemd made, nothing else:
    # "../x" or "/etc/shadow" would read what the unit was never given.
    name = spec.value
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise UserError(f"{spec.purpose}: credential {name!r} must be a plain file name")
    path = Path(directory) / name
    try:
        raw = read_regular_file(path, MAX_CREDENTIAL_BYTES)
        return raw.decode("utf-8").rstrip("\r\n")
    except OSError as exc:
        raise UserError(f"cannot read credential {name!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"credential {name!r} is not UTF-8 text") from None


def _from_command(spec: SecretSpec) -> str:
    try:
        done = subprocess.run(
            shlex.split(spec.value),
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, ValueError) as exc:
        raise OperationError(
            f"{spec.purpose} command {spec.value!r} could not run: {exc}"
        ) from None
    except subprocess.TimeoutExpired:
        raise OperationError(f"{spec.purpose} command {spec.value!r} timed out") from None
    if done.returncode != 0:
        # stderr may help, stdout may be the secret: show only stderr's first line.
        hint = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        detail = f": {hint[0]}" if hint else ""
        raise OperationError(
            f"{spec.purpose} command {spec.value!r} exited with {done.returncode}{detail}"
        )
    # Like pass(1) and most password managers: the secret is the first line.
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0]:
        # An empty secret would surface later as a baffling login failure.
        raise OperationError(f"{spec.purpose} command {spec.value!r} printed nothing")
    return lines[0]
