"""Poll sources once: each source on its own, its failure recorded and not blocking the others."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.config.settings import Config, MeConfig, SourceConfig
from agent.errors import AgentError, UserError
from agent.runtime import replies
from agent.store.database import Store
from connectors import connector_for
from connectors.base import Connector, Progress, no_progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceResult:
    source: str
    kind: str
    new: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def source_configs(config: Config, only: str | None = None) -> list[SourceConfig]:
    """The [[accounts]] and [[calendars]] entries to sync, or just the one named.

    A config without a mail account is refused: calendars alone say whom I met, never who
    writes to whom, and a digest built from them would call every tie one-sided.
    """
    if not config.accounts:
        where = config.path or "the config"
        raise UserError(
            f'no mail account in {where}: add an [[accounts]] table (type "imap" or '
            '"maildir"); see config.example.toml'
        )
    sources = list(config.source_configs)
    if only is None:
        return sources
    chosen = [c for c in sources if c.name == only]
    if not chosen:
        names = ", ".join(c.name for c in sources) or "none configured"
        raise UserError(f"no source named {only!r} (sources: {names})")
    return chosen


def _record_interrupted(store: Store, run: int) -> None:
    """Best effort: the run was cut short. A second signal, or a database still busy with the
    transaction the signal cut into, must not turn a clean stop into a traceback or a hang."""
    try:
        store.finish_run(run, 0, "interrupted", timeout=1.0)
    except BaseException:
        log.debug("could not record the interrupted run %d", run, exc_info=True)


def sync_source(
    config: Config,
    store: Store,
    source: SourceConfig,
    progress: Progress = no_progress,
    factory: Callable[[SourceConfig, MeConfig], Connector] = connector_for,
) -> SourceResult:
    """Sync one source; an AgentError becomes the result's error, recorded in sync_runs."""
    run = store.start_run(source.name)
    try:
        new = factory(source, config.me).sync(store, progress)
    except AgentError as exc:
        store.finish_run(run, 0, str(exc))
        log.warning("sync %s failed: %s", source.name, exc)
        return SourceResult(source.name, source.type, 0, str(exc))
    except BaseException:
        _record_interrupted(store, run)
        raise
    store.finish_run(run, new)
    log.info("sync %s: %d new", source.name, new)
    return SourceResult(source.name, source.type, new)


def sync_all(
    config: Config,
    store: Store,
    only: str | None = None,
    progress: Progress = no_progress,
    factory: Callable[[Any, Any], Any] = connector_for,
) -> list[SourceResult]:
    """Sync every source (or the one named) once, in config order; then apply the replies
    to a digest that arrived with the mail."""
    results = [
        sync_source(config, store, source, progress, factory)
        for source in source_configs(config, only)
    ]
    if any(r.ok and r.kind in ("imap", "maildir") for r in results):
        _replies(config, store)
    return results


def _replies(config: Config, store: Store) -> None:
    try:
        applied = replies.process(config, store, datetime.now(config.me.tz))
    except AgentError as exc:  # a reply that cannot be read is not a failed sync
        log.warning("replies to the digest: %s", exc)
        return
    if applied:
        log.info("applied %d repl%s to the digest", applied, "y" if applied == 1 else "ies")
