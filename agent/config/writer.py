"""A new config file from `agent init`'s answers: TOML text, checked by the reader first.

The text is built here rather than by a TOML library so it can carry the comments a person
needs to find their way later; every value goes through one quoting function, and the result
is parsed back (``parse_config``) before anything is written, so a file this module writes is
always one the agent reads.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from agent.config.settings import Config, parse_config
from agent.errors import UserError


@dataclass(frozen=True)
class Answers:
    name: str
    emails: tuple[str, ...]
    timezone: str
    language: str
    account: dict[str, object]  # the [[accounts]] table, keys as in the file
    calendar_url: str = ""
    digest_to: str = ""
    smtp: dict[str, object] = field(default_factory=dict)


def render(answers: Answers) -> str:
    lines = [
        "# Written by `agent init`. Every key: config.example.toml; check it: `agent check`.",
        "",
        "[me]",
        f"name = {_q(answers.name)}",
        f"emails = {_list(answers.emails)}  # every address that is you",
        f"timezone = {_q(answers.timezone)}",
        f"language = {_q(answers.language)}",
        "",
        "[[accounts]]",
        *(f"{key} = {_value(value)}" for key, value in answers.account.items()),
    ]
    if answers.calendar_url:
        lines += ["", "[[calendars]]", 'name = "calendar"', 'type = "ics"',
                  f"url = {_q(answers.calendar_url)}"]  # fmt: skip
    if answers.digest_to:
        lines += ["", "[digest]", f"to = {_q(answers.digest_to)}", 'every = "monday 08:00"']
    if answers.digest_to and answers.smtp:
        lines += [
            "",
            "[smtp]",
            *(f"{key} = {_value(value)}" for key, value in answers.smtp.items()),
        ]
    return "\n".join(lines) + "\n"


def check(text: str, path: Path) -> Config:
    """The config ``text`` would be at ``path``; UserError listing its problems."""
    return parse_config(tomllib.loads(text), path)


def write(path: Path, text: str) -> None:
    """Write the config, private to the user (it names their mail accounts)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


def _q(value: str) -> str:
    # A JSON string is a TOML basic string: the same quotes and escapes (\", \\, \uXXXX).
    return json.dumps(value, ensure_ascii=False)


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return _list(tuple(str(v) for v in value))
    return _q(str(value))
