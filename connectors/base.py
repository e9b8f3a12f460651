"""The interface every connector implements, and the progress callback sync hands it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:  # the store imports connector vocabulary; only types flow back
    from agent.config.settings import MeConfig
    from agent.store.database import Store


class Progress(Protocol):
    """Told about long work: ``progress(source, folder, done, total)``; total may be None."""

    def __call__(self, source: str, folder: str, done: int, total: int | None) -> None: ...


def no_progress(source: str, folder: str, done: int, total: int | None) -> None:
    """A Progress that says nothing."""


def counted(n: int, noun: str, plural: str = "") -> str:
    """``1 folder``, ``2 folders``: what `check` says about a source."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


class Connector(Protocol):
    """One source of interactions (a mail account or a calendar).

    ``sync`` polls the source once, incrementally, and stores what is new; it returns how many
    messages or meetings were new to the database. It raises ``OperationError`` when the source
    cannot be reached or refuses us, and ``UserError`` when its configuration cannot work.
    Whatever it stored before failing stays stored, with its cursor: the next sync resumes.
    """

    NAME: ClassVar[str]

    # Each connector takes its own kind of SourceConfig (AccountConfig, CalendarConfig).
    def __init__(self, config: Any, me: MeConfig) -> None: ...

    def check(self) -> str:
        """Log in (or open) and return a one-line description of what was found."""
        ...

    def sync(self, store: Store, progress: Progress = no_progress) -> int: ...
