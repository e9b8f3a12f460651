"""Config validation: every problem named by file, table and key, all reported together."""

from __future__ import annotations

import logging
import tomllib
from datetime import time, timedelta
from pathlib import Path

import pytest

from agent.config.secrets import SecretSpec
from agent.config.settings import find_config_path, load_config, parse_config
from agent.errors import UserError

MINIMAL = """
[me]
name = "Ana Example"
emails = ["Ana@Example.org", "ana.private@example.net"]
timezone = "Europe/Berlin"
"""

FULL = (
    MINIMAL
    + """
language = "de"

[database]
url = "sqlite:////tmp/agent.db"

[[accounts]]
name = "work"
type = "imap"
host = "imap.example.org"
username = "ana@example.org"
password_command = "pass show mail/work"
folders = ["INBOX", "Sent"]

[[accounts]]
name = "archive"
type = "maildir"
path = "~/Mail/archive"

[[calendars]]
name = "cal"
type = "ics"
url = "https://calendar.example.org/ana.ics"

[[people]]
name = "Bob Meyer"
emails = ["bob@example.com", "Bob.Meyer@work.example"]
tags = ["close"]
cadence = "30d"

[cadence]
close = "30d"
mentor = "12w"

[ignore]
addresses = ["*@GitHub.com"]
domains = ["@example.net"]

[rules]
files = ["rules.yaml", "/etc/agent/more.yaml"]

[digest]
to = "ana@example.org"
every = "monday 08:00"
format = "text"

[smtp]
host = "smtp.example.org"
security = "starttls"
username = "ana@example.org"
password_env = "SMTP_PASSWORD"

[daemon]
sync_every = "5m"
"""
)


def load(text: str, tmp_path: Path) -> object:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(str(path))


def problems(text: str, tmp_path: Path) -> UserError:
    with pytest.raises(UserError) as info:
        load(text, tmp_path)
    return info.value


def test_full_config(tmp_path: Path) -> None:
    config = load_config(str(_write(tmp_path, FULL)))
    assert config.me.emails == ("ana@example.org", "ana.private@example.net")
    assert config.me.language == "de" and str(config.me.tz) == "Europe/Berlin"
    assert config.database_url == "sqlite:////tmp/agent.db"
    work, archive = config.accounts
    assert (work.port, work.security, work.folders) == (993, "ssl", ("INBOX", "Sent"))
    assert work.secret == SecretSpec("command", "pass show mail/work")
    assert archive.type == "maildir" and archive.path == "~/Mail/archive"
    assert config.calendars[0].url.endswith("ana.ics")
    assert config.people[0].emails == ("bob@example.com", "bob.meyer@work.example")
    assert config.people[0].cadence == timedelta(days=30)
    assert config.cadence == {"close": timedelta(days=30), "mentor": timedelta(weeks=12)}
    assert config.ignore.addresses == ("*@github.com",)
    assert config.ignore.domains == ("example.net",)
    assert config.rule_files == (tmp_path / "rules.yaml", Path("/etc/agent/more.yaml"))
    assert config.digest.every is not None and config.digest.every.weekday == 0
    assert config.digest.every.at == time(8, 0) and config.digest.format == "text"
    assert config.smtp is not None and config.smtp.port == 587
    assert config.smtp.secret == SecretSpec("env", "SMTP_PASSWORD")
    assert config.daemon.sync_every == timedelta(minutes=5)
    assert config.sources == ("work", "archive", "cal")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = parse_config(tomllib.loads(MINIMAL))
    assert config.me.language == "en"
    assert config.database_url.endswith("agent/agent.db")
    assert config.smtp is None and config.digest.every is None
    assert config.daemon.sync_every == timedelta(minutes=15)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no config file at"):
        load_config(str(tmp_path / "nope.toml"))
    with pytest.raises(UserError, match=r"config\.toml: not valid TOML"):
        load("[me\nname=", tmp_path)
    with pytest.raises(UserError, match="not valid TOML"):
        (tmp_path / "config.toml").write_bytes(b"[me]\nname = '\xff'\n")
        load_config(str(tmp_path / "config.toml"))


def test_config_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_CONFIG", str(tmp_path / "env.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert find_config_path(str(tmp_path / "cli.toml")) == tmp_path / "cli.toml"
    assert find_config_path(None) == tmp_path / "env.toml"
    monkeypatch.delenv("AGENT_CONFIG")
    assert find_config_path(None) == tmp_path / "xdg" / "agent" / "config.toml"


def test_missing_me_is_one_problem(tmp_path: Path) -> None:
    error = problems("[daemon]\nsync_every = '5m'\n", tmp_path)
    assert str(tmp_path / "config.toml") in error.message
    assert error.problems == ["me: the [me] table is required"]


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    text = """
[me]
emails = ["not-an-address"]
timezone = "Mars/Olympus"
language = "fr"

[[accounts]]
name = "work"
type = "imap"
port = "993"
security = "tls"

[[accounts]]
name = "work"
type = "pop3"

[[people]]
emails = "bob@example.com"
cadence = "monthly"

[cadence]
close = 30

[digest]
every = "someday 08:00"
format = "pdf"

[smtp]
port = 70000

[daemon]
sync_every = "0m"
"""
    error = problems(text, tmp_path)
    text_of = str(error)
    expected = [
        "[me] emails: 'not-an-address' is not an e-mail address",
        "[me] timezone: unknown time zone 'Mars/Olympus'",
        "[me] language: 'fr' is not one of en, de, es, it",
        "[accounts.work] security: 'tls' is not one of ssl, starttls, none",
        "[accounts.work] password_command: an IMAP account needs a password or token source",
        "[accounts.work] host: is required",
        "[accounts.work] port: must be a positive whole number, not '993'",
        "[accounts.work] username: is required",
        "[accounts.work] type: 'pop3' is not one of imap, maildir",
        "[accounts/calendars] name: source name 'work' is used twice",
        "[people[0]] cadence: 'monthly' is not a duration",
        "[cadence] close: 30 is not a duration",
        "[digest] every: 'someday 08:00': 'someday' is not a weekday or 'daily'",
        "[digest] format: 'pdf' is not one of text, markdown, html, json",
        "[smtp] host: is required",
        "[smtp] port: 70000 is not a TCP port (1-65535)",
        "[daemon] sync_every: '0m' must be longer than zero",
    ]
    for line in expected:
        assert line in text_of, line
    assert text_of.startswith(f"{tmp_path / 'config.toml'}: invalid configuration\n  - ")


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("[me]\nname = 1\nemails = ['a@b.org']", "[me] name: must be a string, not a number"),
        ("[me]\nemails = []", "[me] emails: list at least one address that is you"),
        ("[me]\nname = 'x'", "[me] emails: is required"),
        ("[me]\nemails = [1, 2]", "[me] emails: must be a list of strings"),
        ("me = 'x'", "me: must be a table"),
        ("accounts = 'x'\n[me]\nemails=['a@b.org']", "accounts: must be an array of tables"),
        (
            "[me]\nemails=['a@b.org']\n[[accounts]]\nname='m'\ntype='maildir'",
            "[accounts.m] path: is required",
        ),
        (
            "[me]\nemails=['a@b.org']\n[[accounts]]\ntype='maildir'\npath='x'",
            "[accounts[0]] name: is required",
        ),
        (
            "[me]\nemails=['a@b.org']\n[[calendars]]\nname='c'\ntype='caldav'",
            "[calendars.c] url: is required",
        ),
        (
            "[me]\nemails=['a@b.org']\n[[accounts]]\nname='w'\ntype='imap'\nhost='h'\n"
            "username='u'\npassword_env='X'\ntimeout=-1",
            "[accounts.w] timeout: must be a positive number, not -1",
        ),
        (
            "[me]\nemails=['a@b.org']\n[[accounts]]\nname='w'\ntype='imap'\nhost='h'\n"
            "username='u'\npassword_env='X'\nbatch_size=true",
            "[accounts.w] batch_size: must be a positive whole number, not True",
        ),
        ("[me]\nemails=['a@b.org']\n[daemon]\nsync_every = '99999999999d'", "is too long"),
        ("[me]\nemails=['a@b.org']\n[digest]\nevery = 'monday 25:00'", "is not a time of day"),
        ("[me]\nemails=['a@b.org']\n[digest]\nevery = 'weekly'", "is not a schedule like"),
        ("[me]\nemails=['a@b.org']\n[smtp]\n", "[smtp] host: is required"),
        ("[me]\nemails=['a@b.org']\n[rules]\nfiles = [1]", "[rules] files: must be a list"),
    ],
)
def test_single_problems(snippet: str, expected: str, tmp_path: Path) -> None:
    assert expected in str(problems(snippet, tmp_path))


def test_secret_sources_are_exclusive(tmp_path: Path) -> None:
    text = MINIMAL + (
        "[[accounts]]\nname='w'\ntype='imap'\nhost='h'\nusername='u'\n"
        "password_command='pass x'\npassword_env='X'\n"
        "[smtp]\nhost='s'\npassword='p'\npassword_credential='smtp'\n"
    )
    error = problems(text, tmp_path)
    assert error.problems == [
        "[accounts.w] password_env: set only one of password_command, password_env",
        "[smtp] password: set only one of password_credential, password",
    ]


def test_oauth_token_and_plain_password(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = MINIMAL + (
        "[[accounts]]\nname='w'\ntype='imap'\nhost='h'\nusername='u'\n"
        "oauth2_token_command='oauth2 token'\n"
        "[smtp]\nhost='s'\npassword='hunter2'\n"
    )
    with caplog.at_level(logging.WARNING, logger="agent.config.settings"):
        config = load(text, tmp_path)
    assert config.accounts[0].secret == SecretSpec("command", "oauth2 token", "OAuth2 token")  # type: ignore[attr-defined]
    assert config.smtp.secret == SecretSpec("plain", "hunter2")  # type: ignore[attr-defined]
    assert "[smtp] password: a password in the config file is discouraged" in caplog.text
    assert "hunter2" not in caplog.text


def test_unknown_keys_are_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = MINIMAL + (
        "colour = 'blue'\n[extra]\nx = 1\n"
        "[[accounts]]\nname='m'\ntype='maildir'\npath='~/Mail'\nhost='ignored'\n"
        "[digest]\nwhen = 'monday'\n"
    )
    with caplog.at_level(logging.WARNING, logger="agent.config.settings"):
        load(text, tmp_path)
    warnings = [r.getMessage() for r in caplog.records]
    path = tmp_path / "config.toml"
    assert f"{path}: [me] unknown key 'colour' ignored" in warnings
    assert f"{path}: unknown key 'extra' ignored" in warnings
    assert f"{path}: [accounts.m] unknown key 'host' ignored" in warnings
    assert f"{path}: [digest] unknown key 'when' ignored" in warnings


def test_clear_text_to_a_remote_host_warns_but_loopback_does_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    account = "[[accounts]]\nname='{n}'\ntype='imap'\nhost='{h}'\nsecurity='none'\n"
    account += "username='ana'\npassword_env='PW'\n"
    text = MINIMAL + account.format(n="lan", h="mail.lan") + account.format(n="lo", h="127.0.0.1")
    text += "[smtp]\nhost='localhost'\nsecurity='none'\n"
    with caplog.at_level(logging.WARNING, logger="agent.config.settings"):
        load(text, tmp_path)
    warnings = [r.getMessage() for r in caplog.records if "clear text" in r.getMessage()]
    assert len(warnings) == 1
    assert (
        "[accounts.lan] security = 'none' sends your password to mail.lan in clear" in warnings[0]
    )


def test_calendar_url_schemes_are_checked_before_any_sync() -> None:
    cal = [
        {"name": "a", "type": "ics", "url": "ftp://host/cal.ics"},
        {"name": "b", "type": "caldav", "url": "/home/ana/cal.ics"},
        {"name": "c", "type": "ics", "url": "webcal://example.org/cal.ics"},
        {"name": "d", "type": "ics", "url": "~/calendars/work.ics"},
    ]
    with pytest.raises(UserError) as err:
        parse_config({"me": {"emails": ["a@b.org"]}, "calendars": cal})
    assert err.value.problems == [
        "[calendars.a] url: 'ftp://host/cal.ics': type 'ics' takes file://, http://, "
        "https://, webcal://, webcals:// or a file path",
        "[calendars.b] url: '/home/ana/cal.ics': type 'caldav' takes http://, https://",
    ]


def test_timezone_defaults_to_the_systems(monkeypatch: pytest.MonkeyPatch) -> None:
    data = {"me": {"emails": ["a@b.org"]}}
    monkeypatch.setenv("TZ", "America/New_York")
    assert parse_config(data).me.timezone == "America/New_York"
    # TZ set to something that is no zone name: not the user's mistake, so no error.
    monkeypatch.setenv("TZ", ":/etc/localtime")
    assert parse_config(data).me.tz is not None
    monkeypatch.setenv("TZ", "CET-1CEST")
    assert parse_config(data).me.tz is not None


def test_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RULES_DIR", "/srv/rules")
    text = MINIMAL + "[rules]\nfiles = ['a.yaml', '$RULES_DIR/b.yaml', '~/c.yaml']\n"
    config = load(text, tmp_path)
    assert config.rule_files == (  # type: ignore[attr-defined]
        tmp_path / "a.yaml",
        Path("/srv/rules/b.yaml"),
        Path("~/c.yaml").expanduser(),
    )
