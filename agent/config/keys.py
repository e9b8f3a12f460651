"""How a config key is declared: once, on the dataclass field that holds its value.

A field made with ``key(...)`` carries its TOML name, how it is read and checked, and a line
of documentation. The reader (settings.py) reads every declared key of a table from that,
the unknown-key check allows exactly the declared names, `reference()` prints the README's
key table, and a test holds config.example.toml to the same list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

# How a value is read: "string", a "choice" among ``choices``, a positive "number" or
# "integer", a TCP "port", "strings" (a list, or one string), "emails" (lower-cased
# addresses), a "duration" ("30d"), a "schedule" ("monday 08:00"), or a "secret" (one of the
# password keys, see SECRET_KEYS).
Kind = Literal[
    "string", "choice", "number", "integer", "port", "strings", "emails", "duration",
    "schedule", "secret",
]  # fmt: skip

SECRET_KEYS = ("password_command", "password_env", "password_credential", "password")
OAUTH_KEY = "oauth2_token_command"


@dataclass(frozen=True)
class Key:
    """One key of a config table."""

    name: str  # the TOML key
    kind: Kind
    doc: str
    required: bool = False
    choices: tuple[str, ...] = ()
    types: tuple[str, ...] = ()  # only where the table's `type` is one of these
    oauth: bool = False  # a secret that may also be an OAuth2 token command
    default_doc: str = ""  # the default in words, where it is not a plain value

    @property
    def toml_names(self) -> tuple[str, ...]:
        if self.kind == "secret":
            return (*SECRET_KEYS, OAUTH_KEY) if self.oauth else SECRET_KEYS
        return (self.name,)

    def applies(self, type_: str | None) -> bool:
        """The key belongs to a table of ``type_``; None asks for every key of the table."""
        return type_ is None or not self.types or type_ in self.types


_MISSING: Any = dataclasses.MISSING


def key(
    name: str,
    doc: str,
    kind: Kind = "string",
    default: Any = _MISSING,
    *,
    factory: Any = _MISSING,
    **extra: Any,
) -> Any:
    """A dataclass field declaring config key ``name`` (see Key for ``extra``)."""
    metadata = {"key": Key(name, kind, doc, **extra)}
    if factory is not _MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def declared(cls: type, type_: str | None = None) -> Iterator[tuple[dataclasses.Field[Any], Key]]:
    """The declared keys of a table's dataclass, in order; with ``type_``, those of that type."""
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("key")
        if isinstance(spec, Key) and spec.applies(type_):
            yield f, spec


def toml_names(cls: type, type_: str | None = None) -> tuple[str, ...]:
    """Every TOML key a table of ``cls`` (of ``type_``) accepts."""
    return tuple(n for _, spec in declared(cls, type_) for n in spec.toml_names)


def default_text(f: dataclasses.Field[Any], spec: Key) -> str:
    """The default as the reference shows it."""
    if spec.default_doc:
        return spec.default_doc
    if spec.required:
        return "required"
    value = f.default if f.default is not _MISSING else None
    if value in (None, "", ()):
        return "none"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`" if not isinstance(value, str) else f'`"{value}"`'
