"""Load and validate the TOML config into frozen dataclasses.

Every problem in the file is collected and reported together (file, table, key), before any
network I/O. Unknown keys are warnings. The key names are a contract (DESIGN.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import logging
import os
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.config import paths
from agent.config.durations import parse_duration
from agent.config.keys import (
    OAUTH_KEY,
    SECRET_KEYS,
    Key,
    declared,
    default_text,
    key,
    toml_names,
)
from agent.config.schedule import ScheduleSpec, parse_schedule
from agent.config.secrets import OAUTH2_TOKEN, SecretKind, SecretSpec
from agent.errors import UserError
from agent.i18n import LANGUAGES
from connectors import net

log = logging.getLogger(__name__)

Security = Literal["ssl", "starttls", "none"]
DigestFormat = Literal["text", "markdown", "html", "json"]
AccountType = Literal["imap", "maildir"]
CalendarType = Literal["ics", "caldav"]
AddressBookType = Literal["vcard", "carddav"]
SECURITY: tuple[Security, ...] = get_args(Security)
DIGEST_FORMATS: tuple[DigestFormat, ...] = get_args(DigestFormat)
ACCOUNT_TYPES: tuple[AccountType, ...] = get_args(AccountType)
CALENDAR_TYPES: tuple[CalendarType, ...] = get_args(CalendarType)
ADDRESS_BOOK_TYPES: tuple[AddressBookType, ...] = get_args(AddressBookType)
# URL schemes per calendar type; "" is a plain path. webcal is a "subscribe" label for HTTPS.
FILE_SCHEMES = ("", "file")
WEB_SCHEMES = ("http", "https")
WEBCAL_SCHEMES = ("webcal", "webcals")
CALENDAR_SCHEMES = {"ics": (*FILE_SCHEMES, *WEB_SCHEMES, *WEBCAL_SCHEMES), "caldav": WEB_SCHEMES}

TIMEOUT = 30.0
_TIMEOUT = "seconds, for connecting and for each read"
_CA = "a CA bundle to trust as well as the system's (self-hosted servers); TLS is always verified"
_NAME = "unique among accounts and calendars; `--source` selects by it"
_SECRET = "one secret source: a command's first output line, an environment variable, a systemd credential, or (discouraged) the password itself"  # noqa: E501
_IMAP = ("imap",)


@dataclass(frozen=True)
class MeConfig:
    name: str = key("name", "your name")
    emails: tuple[str, ...] = key("emails", "every address that is you", "emails", required=True)
    timezone: str = key(
        "timezone", "the IANA time zone days are counted in", default_doc="the system's zone"
    )
    language: str = key("language", "digest language", "choice", "en", choices=LANGUAGES)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = key(
        "url", "SQLAlchemy URL: `sqlite:///PATH` or `postgresql://USER@HOST/DB`", default="",
        default_doc="`$XDG_DATA_HOME/agent/agent.db` (`$STATE_DIRECTORY` under systemd)",
    )  # fmt: skip


@dataclass(frozen=True)
class AccountConfig:
    name: str = key("name", _NAME, required=True)
    type: AccountType = key(
        "type", "what the account is", "choice", required=True, choices=ACCOUNT_TYPES
    )
    host: str = key("host", "the IMAP server", default="", required=True, types=_IMAP)
    port: int = key(
        "port", "TCP port", "port", 993, types=_IMAP, default_doc="993 for ssl, else 143"
    )
    security: Security = key(
        "security", "TLS from the start, STARTTLS, or none (loopback only)", "choice", "ssl",
        choices=SECURITY, types=_IMAP,
    )  # fmt: skip
    username: str = key("username", "the login name", default="", required=True, types=_IMAP)
    secret: SecretSpec | None = key(
        "password_command", _SECRET + "; or an OAuth2 token command (XOAUTH2)", "secret", None,
        types=_IMAP, oauth=True, required=True,
    )  # fmt: skip
    folders: tuple[str, ...] = key(
        "folders", "the folders to read", "strings", (),
        default_doc="every folder but Trash, Junk and Drafts (Gmail: All Mail)",
    )  # fmt: skip
    path: str = key("path", "the Maildir++ root", default="", required=True, types=("maildir",))
    timeout: float = key("timeout", _TIMEOUT, "number", TIMEOUT, types=_IMAP)
    batch_size: int = key("batch_size", "UIDs per header FETCH", "integer", 500, types=_IMAP)
    ca_file: str = key("ca_file", _CA, default="", types=_IMAP)


@dataclass(frozen=True)
class CalendarConfig:
    name: str = key("name", _NAME, required=True)
    type: CalendarType = key(
        "type", "an .ics file or feed, or a CalDAV server", "choice", required=True,
        choices=CALENDAR_TYPES,
    )  # fmt: skip
    url: str = key(
        "url", "ics: a path, `file://`, `http(s)://` or `webcal://`; caldav: a calendar, "
        "principal or server URL", required=True,
    )  # fmt: skip
    username: str = key("username", "HTTP or CalDAV login", default="")
    secret: SecretSpec | None = key("password_command", _SECRET, "secret", None)
    timeout: float = key("timeout", _TIMEOUT, "number", TIMEOUT)
    ca_file: str = key("ca_file", _CA, default="")


@dataclass(frozen=True)
class AddressBookConfig:
    name: str = key("name", _NAME, required=True)
    type: AddressBookType = key(
        "type", "a .vcf file or a folder of them, or a CardDAV server", "choice", required=True,
        choices=ADDRESS_BOOK_TYPES,
    )  # fmt: skip
    path: str = key(
        "path", "a .vcf file, or a folder of .vcf files (a vdir, as vdirsyncer and khard keep)",
        default="", required=True, types=("vcard",),
    )  # fmt: skip
    url: str = key(
        "url", "an address book, or a principal or server URL (then every address book)",
        default="", required=True, types=("carddav",),
    )  # fmt: skip
    username: str = key("username", "CardDAV login", default="", types=("carddav",))
    secret: SecretSpec | None = key("password_command", _SECRET, "secret", None, types=("carddav",))
    timeout: float = key("timeout", _TIMEOUT, "number", TIMEOUT, types=("carddav",))
    ca_file: str = key("ca_file", _CA, default="", types=("carddav",))


@dataclass(frozen=True)
class PersonConfig:
    name: str = key("name", "the name shown", default_doc="the first address")
    emails: tuple[str, ...] = key("emails", "every address of this person", "emails", required=True)
    tags: tuple[str, ...] = key("tags", "tags, for [cadence] and rules", "strings", ())
    cadence: timedelta | None = key("cadence", "keep-in-touch target (`30d`)", "duration", None)


@dataclass(frozen=True)
class IgnoreConfig:
    addresses: tuple[str, ...] = key(
        "addresses", "glob patterns of addresses that are never people", "strings", ()
    )
    domains: tuple[str, ...] = key(
        "domains", "domains (and subdomains) that are never people", "strings", ()
    )


@dataclass(frozen=True)
class RulesConfig:
    files: tuple[str, ...] = key(
        "files", "your rule files, on top of the built-in rules (relative to this file)",
        "strings", (),
    )  # fmt: skip


@dataclass(frozen=True)
class DigestConfig:
    to: str = key("to", "where `agent digest --send` and the daemon send it", default="")
    every: ScheduleSpec | None = key(
        "every", "`<weekday> HH:MM` or `daily HH:MM`, in [me] timezone", "schedule", None
    )
    format: DigestFormat = key(
        "format", "the primary part of the sent digest", "choice", "html", choices=DIGEST_FORMATS
    )


@dataclass(frozen=True)
class SmtpConfig:
    host: str = key("host", "the SMTP server", required=True)
    port: int = key(
        "port", "TCP port", "port", 465, default_doc="465 for ssl, 587 for starttls, 25 for none"
    )
    security: Security = key(
        "security", "TLS from the start, STARTTLS, or none (loopback only)", "choice", "ssl",
        choices=SECURITY,
    )  # fmt: skip
    username: str = key("username", "the login name, if the server wants one", default="")
    secret: SecretSpec | None = key(
        "password_command", _SECRET + "; or an OAuth2 token command (XOAUTH2)", "secret", None,
        oauth=True,
    )  # fmt: skip
    sender: str = key("from", "the digest's From", default="", default_doc="username")
    timeout: float = key("timeout", _TIMEOUT, "number", TIMEOUT)
    ca_file: str = key("ca_file", _CA, default="")


@dataclass(frozen=True)
class DaemonConfig:
    sync_every: timedelta = key(
        "sync_every", "how often `agent run` syncs every source", "duration",
        timedelta(minutes=15), default_doc="`15m`",
    )  # fmt: skip


# What an [[accounts]], [[calendars]] or [[address_books]] entry is: one connector's config.
SourceConfig = AccountConfig | CalendarConfig | AddressBookConfig


@dataclass(frozen=True)
class Config:
    path: Path | None
    me: MeConfig
    database_url: str
    accounts: tuple[AccountConfig, ...] = ()
    calendars: tuple[CalendarConfig, ...] = ()
    address_books: tuple[AddressBookConfig, ...] = ()
    people: tuple[PersonConfig, ...] = ()
    cadence: dict[str, timedelta] = field(default_factory=dict)
    ignore: IgnoreConfig = IgnoreConfig()
    rule_files: tuple[Path, ...] = ()
    digest: DigestConfig = DigestConfig()
    smtp: SmtpConfig | None = None
    daemon: DaemonConfig = DaemonConfig()

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.source_configs)

    @property
    def source_configs(self) -> tuple[SourceConfig, ...]:
        return (*self.accounts, *self.calendars, *self.address_books)


# Every table, in the order the reference and config.example.toml show them: (TOML name,
# its dataclass, an array of tables?). [cadence] has no fixed keys: any tag = a duration.
TABLES: tuple[tuple[str, type, bool], ...] = (
    ("me", MeConfig, False), ("database", DatabaseConfig, False),
    ("accounts", AccountConfig, True), ("calendars", CalendarConfig, True),
    ("address_books", AddressBookConfig, True),
    ("people", PersonConfig, True), ("cadence", dict, False), ("ignore", IgnoreConfig, False),
    ("rules", RulesConfig, False), ("digest", DigestConfig, False),
    ("smtp", SmtpConfig, False), ("daemon", DaemonConfig, False),
)  # fmt: skip
TOP_LEVEL = tuple(name for name, _, _ in TABLES)


def reference() -> str:
    """Every config key as a Markdown table (README, "Configuration"), from the declarations."""
    lines = ["| table | key | value | default | meaning |", "|---|---|---|---|---|"]
    for name, cls, array in TABLES:
        shown = f"[[{name}]]" if array else f"[{name}]"
        if cls is dict:
            lines.append(f"| `{shown}` | *tag* | duration | none | keep-in-touch target per tag |")
            continue
        for f, spec in declared(cls):
            keys = " ".join(f"`{n}`" for n in spec.toml_names)
            only = f" ({' / '.join(spec.types)} only)" if spec.types else ""
            kind = "one of " + ", ".join(spec.choices) if spec.choices else spec.kind
            default = default_text(f, spec)
            lines.append(f"| `{shown}` | {keys} | {kind} | {default} | {spec.doc}{only} |")
    return "\n".join(lines)


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


def _build(r: _Reader, data: dict[str, Any], path: Path | None) -> Config | None:
    r.unknown("", data, TOP_LEVEL)
    me = _me(r, r.table(data, "me", required=True))
    accounts = tuple(_account(r, t, i) for i, t in enumerate(r.array(data, "accounts")))
    calendars = tuple(_calendar(r, t, i) for i, t in enumerate(r.array(data, "calendars")))
    books = tuple(_address_book(r, t, i) for i, t in enumerate(r.array(data, "address_books")))
    _unique_names(r, (*accounts, *calendars, *books))
    people = tuple(_person(r, t, i) for i, t in enumerate(r.array(data, "people")))
    rules = RulesConfig(**_read(r, RulesConfig, r.table(data, "rules"), "rules"))
    base = path.parent if path else Path.cwd()
    database = DatabaseConfig(**_read(r, DatabaseConfig, r.table(data, "database"), "database"))
    config = Config(
        path=path,
        me=me,
        database_url=database.url or paths.default_database_url(),
        accounts=accounts,
        calendars=calendars,
        address_books=books,
        people=people,
        cadence=_cadence(r, r.table(data, "cadence")),
        ignore=_ignore(r, r.table(data, "ignore")),
        rule_files=tuple(_resolve_path(f, base) for f in rules.files),
        digest=DigestConfig(**_read(r, DigestConfig, r.table(data, "digest"), "digest")),
        smtp=_smtp(r, r.table(data, "smtp")) if "smtp" in data else None,
        daemon=DaemonConfig(**_read(r, DaemonConfig, r.table(data, "daemon"), "daemon")),
    )
    return None if r.problems else config


def _read(
    r: _Reader,
    cls: type,
    t: dict[str, Any],
    table: str,
    type_: str | None = None,
    given: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every declared key of ``cls`` that applies to ``type_``, read and checked; unknown keys
    are warned about. ``given`` holds fields already read (a table's name and type)."""
    r.unknown(table, t, toml_names(cls, type_))
    values = dict(given or {})
    for f, spec in declared(cls, type_):
        if f.name not in values:
            default = f.default if f.default is not dataclasses.MISSING else _EMPTY[spec.kind]
            values[f.name] = _read_value(r, t, table, spec, default)
    return values


def _read_value(r: _Reader, t: dict[str, Any], table: str, spec: Key, default: Any) -> Any:
    if spec.kind == "string":
        return _or(r.string(t, table, spec.name, spec.required), default)
    if spec.kind == "choice":
        return _or(r.choice(t, table, spec.name, spec.choices, spec.required), default)
    if spec.kind == "number":
        return r.number(t, table, spec.name, default)
    if spec.kind == "integer":
        return r.integer(t, table, spec.name, default)
    if spec.kind == "port":
        return r.port(t, table, default)
    if spec.kind == "strings":
        return tuple(r.str_list(t, table, spec.name, spec.required))
    if spec.kind == "duration":
        return _or(r.duration(t, table, spec.name), default)
    return _read_special(r, t, table, spec, default)


def _read_special(r: _Reader, t: dict[str, Any], table: str, spec: Key, default: Any) -> Any:
    if spec.kind == "emails":
        return _emails(r, t, table, spec.name, spec.required)
    if spec.kind == "schedule":
        return _schedule(r, t, table, spec.name)
    return _secret(r, t, table, spec)


_EMPTY: dict[str, Any] = {"string": "", "choice": "", "strings": (), "emails": ()}


def _or(value: Any, default: Any) -> Any:
    return default if value is None or value == "" else value


def _resolve_path(value: str, base: Path) -> Path:
    p = Path(os.path.expandvars(value)).expanduser()
    return p if p.is_absolute() else base / p


def _me(r: _Reader, t: dict[str, Any]) -> MeConfig:
    if not t:  # a missing [me] is one problem (said by r.table), not one per key
        return MeConfig("", (), "UTC")
    values = _read(r, MeConfig, t, "me")
    if "emails" in t and not values["emails"] and not r.has_problem("me", "emails"):
        r.problem("me", "emails", "list at least one address that is you")
    tz = values["timezone"]
    if tz and not valid_zone(tz):
        r.problem(
            "me", "timezone", f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin)"
        )
        tz = "UTC"
    return MeConfig(**{**values, "timezone": tz or system_timezone()})


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def system_timezone() -> str:
    """The system's IANA zone name; UTC when it cannot be told (the user did not write it)."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(os.readlink("/etc/localtime").split("zoneinfo/", 1)[-1])
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        # TZ may be a path (":/etc/localtime") or POSIX rule ("CET-1CEST"): not a usable name.
        if name and not name.startswith("/") and valid_zone(name):
            return name
    return "UTC"


def _emails(
    r: _Reader, t: dict[str, Any], table: str, name: str, required: bool
) -> tuple[str, ...]:
    emails = tuple(e.strip().lower() for e in r.str_list(t, table, name, required=required))
    for email in emails:
        if "@" not in email.strip("@") or any(c.isspace() for c in email):
            r.problem(table, name, f"{email!r} is not an e-mail address")
    return emails


def _schedule(r: _Reader, t: dict[str, Any], table: str, name: str) -> ScheduleSpec | None:
    every = r.string(t, table, name)
    if not every:
        return None
    try:
        return parse_schedule(every)
    except ValueError as exc:
        r.problem(table, name, str(exc))
        return None


_SECRET_KINDS: dict[str, SecretKind] = {
    "password_command": "command",
    "password_env": "env",
    "password_credential": "credential",
    "password": "plain",
    OAUTH_KEY: "command",
}


def _secret(r: _Reader, t: dict[str, Any], table: str, spec: Key) -> SecretSpec | None:
    found = [k for k in spec.toml_names if k in t]
    if len(found) > 1:
        r.problem(table, found[1], f"set only one of {', '.join(found)}")
        return None
    if not found:
        if spec.required:
            r.problem(table, spec.name, "an IMAP account needs a password or token source")
        return None
    name = found[0]
    kind = _SECRET_KINDS[name]
    value = r.string(t, table, name) or ""
    if kind == "plain":
        r.warn(f"[{table}] {name}: a password in the config file is discouraged; use a command")
    purpose = OAUTH2_TOKEN if name == OAUTH_KEY else "password"
    return SecretSpec(kind=kind, value=value, purpose=purpose)


def _named(
    r: _Reader, t: dict[str, Any], array: str, index: int, types: tuple[str, ...]
) -> tuple[str, str, str]:
    """An array entry's name, the table label its problems use, and its type."""
    name = r.string(t, f"{array}[{index}]", "name", required=True) or f"#{index}"
    table = f"{array}.{name}"
    kind = r.choice(t, table, "type", types, required=True) or types[0]
    return name, table, kind


def _account(r: _Reader, t: dict[str, Any], index: int) -> AccountConfig:
    name, table, kind = _named(r, t, "accounts", index, ACCOUNT_TYPES)
    if kind == "maildir":
        return AccountConfig(
            **_read(r, AccountConfig, t, table, kind, {"name": name, "type": kind})
        )
    security = r.choice(t, table, "security", SECURITY) or "ssl"
    _warn_clear_text(r, t, table, security)
    port = 993 if security == "ssl" else 143
    given = {"name": name, "type": kind, "security": security, "port": r.port(t, table, port)}
    return AccountConfig(**_read(r, AccountConfig, t, table, kind, given))


def _warn_clear_text(r: _Reader, t: dict[str, Any], table: str, security: str) -> None:
    """A warning, not an error: a private network may be trusted, but the user must know.
    Said here, once per load, not again by the connector that connects."""
    what = "the digest and your password" if table == "smtp" else "your password"
    warning = net.clear_text_warning(table, "security = 'none'", str(t.get("host", "")), what)
    if security == "none" and warning:
        r.warn(warning)


def _calendar(r: _Reader, t: dict[str, Any], index: int) -> CalendarConfig:
    name, table, kind = _named(r, t, "calendars", index, CALENDAR_TYPES)
    values = _read(r, CalendarConfig, t, table, kind, {"name": name, "type": kind})
    _check_calendar_url(r, table, kind, values["url"])
    _warn_clear_calendar(r, t, table, values["url"])
    return CalendarConfig(**values)


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


def _check_calendar_url(r: _Reader, table: str, kind: str, url: str) -> None:
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    allowed = CALENDAR_SCHEMES.get(kind, ())
    if url and scheme not in allowed:
        shown = ", ".join(f"{s}://" for s in allowed if s) + (
            " or a file path" if "" in allowed else ""
        )
        r.problem(table, "url", f"{url!r}: type {kind!r} takes {shown}")


def _unique_names(r: _Reader, sources: tuple[SourceConfig, ...]) -> None:
    seen: set[str] = set()
    for name in (s.name for s in sources):
        if name in seen:
            r.problem("accounts/calendars", "name", f"source name {name!r} is used twice")
        seen.add(name)


def _address_book(r: _Reader, t: dict[str, Any], index: int) -> AddressBookConfig:
    name, table, kind = _named(r, t, "address_books", index, ADDRESS_BOOK_TYPES)
    values = _read(r, AddressBookConfig, t, table, kind, {"name": name, "type": kind})
    if kind == "carddav":
        _check_calendar_url(r, table, "caldav", values["url"])  # the same http(s) rule
        _warn_clear_calendar(r, t, table, values["url"])
    return AddressBookConfig(**values)


def _person(r: _Reader, t: dict[str, Any], index: int) -> PersonConfig:
    values = _read(r, PersonConfig, t, f"people[{index}]")
    emails = values["emails"]
    return PersonConfig(**{**values, "name": values["name"] or (emails[0] if emails else "")})


def _cadence(r: _Reader, t: dict[str, Any]) -> dict[str, timedelta]:
    out: dict[str, timedelta] = {}
    for tag in t:
        value = r.duration(t, "cadence", tag)
        if value is not None:
            out[tag] = value
    return out


def _ignore(r: _Reader, t: dict[str, Any]) -> IgnoreConfig:
    values = _read(r, IgnoreConfig, t, "ignore")
    return IgnoreConfig(
        addresses=tuple(a.lower() for a in values["addresses"]),
        domains=tuple(d.lower().lstrip("@") for d in values["domains"]),
    )


def _smtp(r: _Reader, t: dict[str, Any]) -> SmtpConfig:
    security = r.choice(t, "smtp", "security", SECURITY) or "ssl"
    _warn_clear_text(r, t, "smtp", security)
    port = {"ssl": 465, "starttls": 587, "none": 25}[security]
    given = {"security": security, "port": r.port(t, "smtp", port)}
    return SmtpConfig(**_read(r, SmtpConfig, t, "smtp", given=given))


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
        for name in t:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1, cutoff=0.7)
                if table:
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    self.warn(f"[{table}] unknown key {name!r} ignored{hint}")
                else:
                    hint = f" (did you mean [{close[0]}]?)" if close else ""
                    self.warn(f"unknown key {name!r} ignored{hint}")

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
