"""Load and validate the TOML config into frozen dataclasses.

Every problem in the file is collected and reported together (file, table, key), before any
network I/O. Unknown keys are warnings. The key names are a contract (DESIGN.md).
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.config import paths
from agent.config.durations import parse_duration
from agent.config.schedule import ScheduleSpec, parse_schedule
from agent.config.secrets import OAUTH2_TOKEN, SecretKind, SecretSpec
from agent.errors import UserError
from agent.i18n import LANGUAGES
from connectors import net

log = logging.getLogger(__name__)

SECURITY = ("ssl", "starttls", "none")
DIGEST_FORMATS = ("text", "markdown", "html", "json")


@dataclass(frozen=True)
class MeConfig:
    name: str
    emails: tuple[str, ...]
    timezone: str
    language: str = "en"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class AccountConfig:
    name: str
    type: str  # "imap" | "maildir"
    host: str = ""
    port: int = 993
    security: str = "ssl"
    username: str = ""
    secret: SecretSpec | None = None
    folders: tuple[str, ...] = ()
    path: str = ""
    timeout: float = 30.0
    batch_size: int = 500
    ca_file: str = ""  # extra CA bundle to trust (self-hosted servers); verification stays on


@dataclass(frozen=True)
class CalendarConfig:
    name: str
    type: str  # "ics" | "caldav"
    url: str
    username: str = ""
    secret: SecretSpec | None = None
    timeout: float = 30.0
    ca_file: str = ""


@dataclass(frozen=True)
class PersonConfig:
    name: str
    emails: tuple[str, ...]
    tags: tuple[str, ...] = ()
    cadence: timedelta | None = None


@dataclass(frozen=True)
class IgnoreConfig:
    addresses: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class DigestConfig:
    to: str = ""
    every: ScheduleSpec | None = None
    format: str = "html"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 465
    security: str = "ssl"
    username: str = ""
    secret: SecretSpec | None = None
    sender: str = ""
    timeout: float = 30.0
    ca_file: str = ""


@dataclass(frozen=True)
class DaemonConfig:
    sync_every: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Config:
    path: Path | None
    me: MeConfig
    database_url: str
    accounts: tuple[AccountConfig, ...] = ()
    calendars: tuple[CalendarConfig, ...] = ()
    people: tuple[PersonConfig, ...] = ()
    cadence: dict[str, timedelta] = field(default_factory=dict)
    ignore: IgnoreConfig = IgnoreConfig()
    rule_files: tuple[Path, ...] = ()
    digest: DigestConfig = DigestConfig()
    smtp: SmtpConfig | None = None
    daemon: DaemonConfig = DaemonConfig()

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.accounts) + tuple(c.name for c in self.calendars)


def find_config_path(explicit: str | None) -> Path:
    """--config, then $AGENT_CONFIG, then $XDG_CONFIG_HOME/agent/config.toml."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("AGENT_CONFIG")
    if env:
        return Path(env).expanduser()
    return paths.default_config_path()


def load_config(explicit: str | None = None) -> Config:
    """Find, read and validate the config. Raises UserError listing every problem."""
    path = find_config_path(explicit)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(
            f"no config file at {path}; copy config.example.toml there or pass --config"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    """Validate an already-parsed TOML document. Raises UserError listing every problem."""
    reader = _Reader(str(path) if path else "<config>")
    config = _build(reader, data, path)
    # Warnings first, errors or not: an unknown key is often the typo behind a missing one.
    for warning in reader.warnings:
        log.warning("%s", warning)
    if reader.problems:
        raise UserError(f"{reader.filename}: invalid configuration", reader.problems)
    assert config is not None
    return config


TOP_LEVEL = (
    "me", "database", "accounts", "calendars", "people", "cadence",
    "ignore", "rules", "digest", "smtp", "daemon",
)  # fmt: skip


def _build(r: _Reader, data: dict[str, Any], path: Path | None) -> Config | None:
    r.unknown("", data, TOP_LEVEL)
    me = _me(r, r.table(data, "me", required=True))
    accounts = tuple(_account(r, t, i) for i, t in enumerate(r.array(data, "accounts")))
    calendars = tuple(_calendar(r, t, i) for i, t in enumerate(r.array(data, "calendars")))
    _unique_names(r, accounts, calendars)
    people = tuple(_person(r, t, i) for i, t in enumerate(r.array(data, "people")))
    rules = r.table(data, "rules")
    r.unknown("rules", rules, ("files",))
    base = path.parent if path else Path.cwd()
    rule_files = tuple(_resolve_path(f, base) for f in r.str_list(rules, "rules", "files"))
    smtp_table = r.table(data, "smtp")
    config = Config(
        path=path,
        me=me,
        database_url=_database(r, r.table(data, "database")),
        accounts=accounts,
        calendars=calendars,
        people=people,
        cadence=_cadence(r, r.table(data, "cadence")),
        ignore=_ignore(r, r.table(data, "ignore")),
        rule_files=rule_files,
        digest=_digest(r, r.table(data, "digest")),
        smtp=_smtp(r, smtp_table) if "smtp" in data else None,
        daemon=_daemon(r, r.table(data, "daemon")),
    )
    return None if r.problems else config


def _resolve_path(value: str, base: Path) -> Path:
    p = Path(os.path.expandvars(value)).expanduser()
    return p if p.is_absolute() else base / p


def _me(r: _Reader, t: dict[str, Any]) -> MeConfig:
    r.unknown("me", t, ("name", "emails", "timezone", "language"))
    # A missing [me] is one problem, not one per key.
    emails = _emails(r, t, "me", required=bool(t))
    if "emails" in t and not emails and not r.has_problem("me", "emails"):
        r.problem("me", "emails", "list at least one address that is you")
    tz = r.string(t, "me", "timezone")
    if tz is not None and not _valid_zone(tz):
        r.problem(
            "me", "timezone", f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin)"
        )
        tz = "UTC"
    tz = tz or _system_timezone()
    language = r.string(t, "me", "language") or "en"
    if language not in LANGUAGES:
        r.problem("me", "language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
    return MeConfig(
        name=r.string(t, "me", "name") or "", emails=emails, timezone=tz, language=language
    )


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _system_timezone() -> str:
    """The system's IANA zone name; UTC when it cannot be told (the user did not write it)."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(os.readlink("/etc/localtime").split("zoneinfo/", 1)[-1])
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        # TZ may be a path (":/etc/localtime") or POSIX rule ("CET-1CEST"): not a usable name.
        if name and not name.startswith("/") and _valid_zone(name):
            return name
    return "UTC"


def _emails(r: _Reader, t: dict[str, Any], table: str, required: bool) -> tuple[str, ...]:
    emails = tuple(e.strip().lower() for e in r.str_list(t, table, "emails", required=required))
    for email in emails:
        if "@" not in email.strip("@") or any(c.isspace() for c in email):
            r.problem(table, "emails", f"{email!r} is not an e-mail address")
    return emails


def _database(r: _Reader, t: dict[str, Any]) -> str:
    r.unknown("database", t, ("url",))
    return r.string(t, "database", "url") or paths.default_database_url()


def _secret(r: _Reader, t: dict[str, Any], table: str, allow_oauth: bool) -> SecretSpec | None:
    keys: dict[str, SecretKind] = {
        "password_command": "command",
        "password_env": "env",
        "password_credential": "credential",
        "password": "plain",
    }
    found: list[tuple[str, SecretKind]] = [(k, kind) for k, kind in keys.items() if k in t]
    if allow_oauth and "oauth2_token_command" in t:
        found.append(("oauth2_token_command", "command"))
    if len(found) > 1:
        r.problem(table, found[1][0], f"set only one of {', '.join(k for k, _ in found)}")
        return None
    if not found:
        return None
    key, kind = found[0]
    value = r.string(t, table, key) or ""
    if kind == "plain":
        r.warn(f"[{table}] {key}: a password in the config file is discouraged; use a command")
    purpose = OAUTH2_TOKEN if key == "oauth2_token_command" else "password"
    return SecretSpec(kind=kind, value=value, purpose=purpose)


SECRET_KEYS = ("password_command", "password_env", "password_credential", "password")


def _account(r: _Reader, t: dict[str, Any], index: int) -> AccountConfig:
    name = r.string(t, f"accounts[{index}]", "name", required=True) or f"#{index}"
    table = f"accounts.{name}"
    kind = r.choice(t, table, "type", ("imap", "maildir"), required=True) or "imap"
    timeout = r.number(t, table, "timeout", 30.0)
    batch = r.integer(t, table, "batch_size", 500)
    folders = tuple(r.str_list(t, table, "folders"))
    if kind == "maildir":
        r.unknown(table, t, ("name", "type", "path", "folders"))
        path = r.string(t, table, "path", required=True) or ""
        return AccountConfig(name=name, type=kind, path=path, folders=folders)
    r.unknown(
        table,
        t,
        ("name", "type", "host", "port", "security", "username", "folders", "timeout",
         "batch_size", "ca_file", "oauth2_token_command", *SECRET_KEYS),
    )  # fmt: skip
    security = r.choice(t, table, "security", SECURITY) or "ssl"
    _warn_clear_text(r, t, table, security)
    default_port = 993 if security == "ssl" else 143
    secret = _secret(r, t, table, allow_oauth=True)
    if secret is None and not any(k in t for k in (*SECRET_KEYS, "oauth2_token_command")):
        r.problem(table, "password_command", "an IMAP account needs a password or token source")
    return AccountConfig(
        name=name,
        type=kind,
        host=r.string(t, table, "host", required=True) or "",
        port=r.port(t, table, default_port),
        security=security,
        username=r.string(t, table, "username", required=True) or "",
        secret=secret,
        folders=folders,
        timeout=timeout,
        batch_size=max(1, batch),
        ca_file=r.string(t, table, "ca_file") or "",
    )


def _warn_clear_text(r: _Reader, t: dict[str, Any], table: str, security: str) -> None:
    """A warning, not an error: a private network may be trusted, but the user must know.
    Said here, once per load, not again by the connector that connects."""
    what = "the digest and your password" if table == "smtp" else "your password"
    warning = net.clear_text_warning(table, "security = 'none'", str(t.get("host", "")), what)
    if security == "none" and warning:
        r.warn(warning)


def _calendar(r: _Reader, t: dict[str, Any], index: int) -> CalendarConfig:
    name = r.string(t, f"calendars[{index}]", "name", required=True) or f"#{index}"
    table = f"calendars.{name}"
    r.unknown(table, t, ("name", "type", "url", "username", "timeout", "ca_file", *SECRET_KEYS))
    kind = r.choice(t, table, "type", ("ics", "caldav"), required=True) or "ics"
    url = r.string(t, table, "url", required=True) or ""
    _check_calendar_url(r, table, kind, url)
    _warn_clear_calendar(r, t, table, url)
    return CalendarConfig(
        name=name,
        type=kind,
        url=url,
        username=r.string(t, table, "username") or "",
        secret=_secret(r, t, table, allow_oauth=False),
        timeout=r.number(t, table, "timeout", 30.0),
        ca_file=r.string(t, table, "ca_file") or "",
    )


def _warn_clear_calendar(r: _Reader, t: dict[str, Any], table: str, url: str) -> None:
    """A password for a plain-http calendar goes over the network readable by anyone on it."""
    parts = urlsplit(url) if "://" in url else None
    if parts is None or parts.scheme.lower() != "http":
        return
    has_secret = bool(parts.password) or any(k in t for k in SECRET_KEYS)
    warning = net.clear_text_warning(
        table, "url = 'http://…'", parts.hostname or "", "the calendar password"
    )
    if has_secret and warning:
        r.warn(warning)


# URL schemes per calendar type; "" is a plain path. webcal is a "subscribe" label for HTTPS.
FILE_SCHEMES = ("", "file")
WEB_SCHEMES = ("http", "https")
WEBCAL_SCHEMES = ("webcal", "webcals")
CALENDAR_SCHEMES = {"ics": (*FILE_SCHEMES, *WEB_SCHEMES, *WEBCAL_SCHEMES), "caldav": WEB_SCHEMES}


def _check_calendar_url(r: _Reader, table: str, kind: str, url: str) -> None:
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    allowed = CALENDAR_SCHEMES.get(kind, ())
    if url and scheme not in allowed:
        shown = ", ".join(f"{s}://" for s in allowed if s) + (
            " or a file path" if "" in allowed else ""
        )
        r.problem(table, "url", f"{url!r}: type {kind!r} takes {shown}")


def _unique_names(
    r: _Reader, accounts: tuple[AccountConfig, ...], calendars: tuple[CalendarConfig, ...]
) -> None:
    seen: set[str] = set()
    for name in [a.name for a in accounts] + [c.name for c in calendars]:
        if name in seen:
            r.problem("accounts/calendars", "name", f"source name {name!r} is used twice")
        seen.add(name)


def _person(r: _Reader, t: dict[str, Any], index: int) -> PersonConfig:
    table = f"people[{index}]"
    r.unknown(table, t, ("name", "emails", "tags", "cadence"))
    emails = _emails(r, t, table, required=True)
    cadence = r.duration(t, table, "cadence")
    return PersonConfig(
        name=r.string(t, table, "name") or (emails[0] if emails else ""),
        emails=emails,
        tags=tuple(r.str_list(t, table, "tags")),
        cadence=cadence,
    )


def _cadence(r: _Reader, t: dict[str, Any]) -> dict[str, timedelta]:
    out: dict[str, timedelta] = {}
    for tag in t:
        value = r.duration(t, "cadence", tag)
        if value is not None:
            out[tag] = value
    return out


def _ignore(r: _Reader, t: dict[str, Any]) -> IgnoreConfig:
    r.unknown("ignore", t, ("addresses", "domains"))
    return IgnoreConfig(
        addresses=tuple(a.lower() for a in r.str_list(t, "ignore", "addresses")),
        domains=tuple(d.lower().lstrip("@") for d in r.str_list(t, "ignore", "domains")),
    )


def _digest(r: _Reader, t: dict[str, Any]) -> DigestConfig:
    r.unknown("digest", t, ("to", "every", "format"))
    every = r.string(t, "digest", "every")
    spec = None
    if every:
        try:
            spec = parse_schedule(every)
        except ValueError as exc:
            r.problem("digest", "every", str(exc))
    return DigestConfig(
        to=r.string(t, "digest", "to") or "",
        every=spec,
        format=r.choice(t, "digest", "format", DIGEST_FORMATS) or "html",
    )


def _smtp(r: _Reader, t: dict[str, Any]) -> SmtpConfig:
    r.unknown(
        "smtp", t,
        ("host", "port", "security", "username", "from", "timeout", "ca_file",
         "oauth2_token_command", *SECRET_KEYS),
    )  # fmt: skip
    security = r.choice(t, "smtp", "security", SECURITY) or "ssl"
    _warn_clear_text(r, t, "smtp", security)
    default_port = {"ssl": 465, "starttls": 587, "none": 25}[security]
    return SmtpConfig(
        host=r.string(t, "smtp", "host", required=True) or "",
        port=r.port(t, "smtp", default_port),
        security=security,
        username=r.string(t, "smtp", "username") or "",
        secret=_secret(r, t, "smtp", allow_oauth=True),
        sender=r.string(t, "smtp", "from") or "",
        timeout=r.number(t, "smtp", "timeout", 30.0),
        ca_file=r.string(t, "smtp", "ca_file") or "",
    )


def _daemon(r: _Reader, t: dict[str, Any]) -> DaemonConfig:
    r.unknown("daemon", t, ("sync_every",))
    every = r.duration(t, "daemon", "sync_every")
    return DaemonConfig(sync_every=every or timedelta(minutes=15))


class _Reader:
    """Typed access to TOML tables that records problems instead of raising."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def problem(self, table: str, key: str, message: str) -> None:
        where = f"[{table}] {key}" if table else key
        self.problems.append(f"{where}: {message}")

    def has_problem(self, table: str, key: str) -> bool:
        where = f"[{table}] {key}: " if table else f"{key}: "
        return any(p.startswith(where) for p in self.problems)

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.filename}: {message}")

    def unknown(self, table: str, t: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for key in t:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.7)
                if table:
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    self.warn(f"[{table}] unknown key {key!r} ignored{hint}")
                else:
                    hint = f" (did you mean [{close[0]}]?)" if close else ""
                    self.warn(f"unknown key {key!r} ignored{hint}")

    def table(self, data: dict[str, Any], key: str, required: bool = False) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            if required:
                self.problem("", key, f"the [{key}] table is required")
            return {}
        if not isinstance(value, dict):
            self.problem("", key, "must be a table")
            return {}
        return value

    def array(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem("", key, f"must be an array of tables ([[{key}]])")
            return []
        return value

    def string(self, t: dict[str, Any], table: str, key: str, required: bool = False) -> str | None:
        value = t.get(key)
        if value is None:
            if required:
                self.problem(table, key, "is required")
            return None
        if not isinstance(value, str):
            self.problem(table, key, f"must be a string, not {_type(value)}")
            return None
        return value

    def number(self, t: dict[str, Any], table: str, key: str, default: float) -> float:
        value = t.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self.problem(table, key, f"must be a positive number, not {value!r}")
            return default
        return float(value)

    def integer(self, t: dict[str, Any], table: str, key: str, default: int) -> int:
        value = t.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.problem(table, key, f"must be a positive whole number, not {value!r}")
            return default
        return value

    def port(self, t: dict[str, Any], table: str, default: int) -> int:
        value = self.integer(t, table, "port", default)
        if value > 65535:
            self.problem(table, "port", f"{value} is not a TCP port (1-65535)")
            return default
        return value

    def choice(
        self, t: dict[str, Any], table: str, key: str, options: tuple[str, ...],
        required: bool = False,
    ) -> str | None:  # fmt: skip
        value = self.string(t, table, key, required)
        if value is not None and value not in options:
            self.problem(table, key, f"{value!r} is not one of {', '.join(options)}")
            return None
        return value

    def str_list(
        self, t: dict[str, Any], table: str, key: str, required: bool = False
    ) -> list[str]:
        value = t.get(key)
        if value is None:
            if required:
                self.problem(table, key, "is required")
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(table, key, "must be a list of strings")
            return []
        return value

    def duration(self, t: dict[str, Any], table: str, key: str) -> timedelta | None:
        value = t.get(key)
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.problem(table, key, str(exc))
            return None


def _type(value: object) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
