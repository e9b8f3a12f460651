"""`agent run`: the foreground loop systemd starts.

Two `schedule` jobs tick every few seconds. The sync job polls each source when it is due
(``[daemon] sync_every`` after its last success, or its backoff after a failure); the digest job
sends the digest of the current period unless the store says it went out already. Nothing
lives only in memory that matters across a restart: the store records sync runs and sent
digests, so a digest missed while the daemon was down is caught up at start, exactly once.

SIGTERM/SIGINT raise ``Shutdown`` at once (a sync rolls back its open transaction and resumes
next time), except while a digest is being sent and recorded: there they only set a flag,
because a send without its record would be sent again after the restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

import schedule
from sqlalchemy import Engine, event

from agent.config.schedule import ScheduleSpec
from agent.config.settings import Config, SourceConfig
from agent.core.model import Clock, utc_now
from agent.errors import AgentError
from agent.runtime import lock
from agent.runtime.notify import Notifier, watchdog_interval
from agent.runtime.sync import SourceResult, source_configs, sync_source
from agent.store.database import Store

log = logging.getLogger(__name__)

Deliver = Callable[..., Any]


# -- pure decisions (unit-tested with an injected clock) ------------------------------------


def due_period(spec: ScheduleSpec, now: datetime, sent: Callable[[str], bool]) -> str | None:
    """The period whose digest should go out now, or None.

    The latest slot at or before ``now`` opens a period; if that period has no recorded digest
    it is due. The same test at start is the catch-up of a persistent timer: only the latest
    missed period is sent, never a backlog.
    """
    period = spec.period_id(spec.last_slot(now))
    return None if sent(period) else period


def next_digest(spec: ScheduleSpec, now: datetime, sent: Callable[[str], bool]) -> datetime:
    """When the next digest goes out: ``now`` if one is due, else the next slot."""
    return now if due_period(spec, now, sent) else spec.next_slot(now)


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: 1m, 2m, 4m ... 1h, each scaled by 0.5-1.0.

    The jitter keeps sources that failed together (a network outage) from retrying together.
    """

    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=1)

    def delay(self, failures: int, rng: Callable[[], float] = random.random) -> timedelta:
        full = min(self.cap, self.base * (1 << max(0, min(failures - 1, 30))))
        return full * (0.5 + rng() / 2)


@dataclass
class Attempts:
    """When each named task (a source, the digest) may run next."""

    backoff: Backoff = field(default_factory=Backoff)
    rng: Callable[[], float] = random.random
    not_before: dict[str, datetime] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    def ready(self, name: str, now: datetime) -> bool:
        when = self.not_before.get(name)
        return when is None or now >= when

    def succeeded(self, name: str, now: datetime, every: timedelta | None = None) -> None:
        self.failures.pop(name, None)
        if every is None:
            self.not_before.pop(name, None)
        else:
            self.not_before[name] = now + every

    def failed(self, name: str, now: datetime) -> timedelta:
        """Count a failure; return how long the task now waits."""
        count = self.failures.get(name, 0) + 1
        self.failures[name] = count
        wait = self.backoff.delay(count, self.rng)
        self.not_before[name] = now + wait
        return wait


# -- signals --------------------------------------------------------------------------------


class Shutdown(BaseException):
    """Raised by the SIGTERM/SIGINT handler; a BaseException so no `except Exception` eats it."""


class SignalGuard:
    """Turns SIGTERM/SIGINT into Shutdown, or only into a flag inside a critical section.

    Database work is always critical (see ``watch``): an exception raised asynchronously inside
    SQLAlchemy's commit, rollback or pool return can leave a connection holding SQLite's write
    lock, and the "interrupted" record then waits out busy_timeout. A deferred stop is acted on
    at the next ``check()``: after each batch (the progress callback) and between jobs.
    """

    def __init__(self) -> None:
        self.stop_requested = False
        self._critical = 0
        self._previous: dict[int, Any] = {}
        self._db_in_use: set[int] = set()

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stop_requested:
            log.info("%s received: stopping", signal.Signals(signum).name)
        self.stop_requested = True
        if self._critical == 0 and not self._db_in_use:
            raise Shutdown(signum)

    def watch(self, engine: Engine) -> Callable[[], None]:
        """Make every pool checkout of ``engine`` critical; returns the function that undoes it."""

        def busy(dbapi_conn: Any, *_: Any) -> None:
            self._db_in_use.add(id(dbapi_conn))

        def free(dbapi_conn: Any, *_: Any) -> None:
            self._db_in_use.discard(id(dbapi_conn))

        hooks = (("checkout", busy), ("checkin", free), ("invalidate", free), ("close", free))
        for name, fn in hooks:
            event.listen(engine.pool, name, fn)

        def unwatch() -> None:
            for name, fn in hooks:
                event.remove(engine.pool, name, fn)
            self._db_in_use.clear()

        return unwatch

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """Signals only set the flag in here; work done in here is never cut in half."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1

    def check(self) -> None:
        if self.stop_requested:
            raise Shutdown(0)

    def hold(self) -> None:
        """From now on signals only set the flag: the daemon is already on its way out."""
        self._critical += 1


# -- the daemon -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """How often the loop looks at its jobs, and the backoff; env knobs exist for tests only."""

    tick: float = 30.0
    backoff: Backoff = Backoff()

    @classmethod
    def from_environ(cls) -> Timing:
        # Undocumented for users: the test suite runs whole daemons in seconds with these.
        tick = float(os.environ.get("AGENT_TICK_SECONDS") or 30.0)
        base = float(os.environ.get("AGENT_BACKOFF_SECONDS") or 60.0)
        return cls(
            tick=tick, backoff=Backoff(timedelta(seconds=base), timedelta(seconds=base * 60))
        )


class Daemon:
    """The loop. Every collaborator with side effects is a parameter, so tests can swap it."""

    def __init__(
        self,
        config: Config,
        store: Store,
        notifier: Notifier,
        *,
        timing: Timing | None = None,
        clock: Clock = utc_now,
        deliver: Deliver | None = None,
        sync: Callable[..., SourceResult] = sync_source,
        guard: SignalGuard | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.notifier = notifier
        self.timing = timing or Timing()
        self.clock = clock
        self._deliver = deliver
        self._sync = sync
        self.guard = guard or SignalGuard()
        self.attempts = Attempts(backoff=self.timing.backoff)
        self.sources = source_configs(config)
        self.scheduler = schedule.Scheduler()
        self._watchdog = watchdog_interval()
        self._last_ping = 0.0
        self._status = ""

    # The loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Run until SIGTERM/SIGINT; returns normally (exit 0) after a clean stop."""
        self.guard.install()
        unwatch = self.guard.watch(self.store.engine)
        try:
            self._announce()
            self._loop()
        except Shutdown:
            pass
        finally:
            self.guard.hold()
            log.info("agent daemon stopped")
            self.notifier.stopping()
            unwatch()
            self.guard.restore()

    def _announce(self) -> None:
        digest = self.config.digest.every if self.digest_enabled else None
        log.info(
            "agent daemon started: %d sources, sync every %s, digest %s",
            len(self.sources), _human(self.config.daemon.sync_every), digest or "off",
        )  # fmt: skip
        self.notifier.ready("started")
        self._ping(force=True)

    def _loop(self) -> None:
        # At start: sync, then the catch-up digest (built on fresh data); then tick.
        sync, digest = (
            self._guarded("sync", self.sync_job),
            self._guarded("digest", self.digest_job),
        )
        sync()
        digest()
        # schedule's annotation says int, but it builds a timedelta: fractional ticks work.
        tick: Any = self.timing.tick
        self.scheduler.every(tick).seconds.do(sync)
        self.scheduler.every(tick).seconds.do(digest)
        while True:
            self.guard.check()
            self.scheduler.run_pending()
            self._ping()
            self._set_status(self._idle_status())
            self._sleep()

    def _sleep(self) -> None:
        wait = max(0.0, self.scheduler.idle_seconds or self.timing.tick)
        if self._watchdog:
            wait = min(wait, self._watchdog / 2)
        self.guard.check()
        time.sleep(wait)

    def _guarded(self, name: str, job: Callable[[], None]) -> Callable[[], None]:
        # schedule lets an exception escape run_pending() and then never reschedules the
        # job; caught here, one bad run is logged and the job runs again next tick.
        def run() -> None:
            try:
                job()
            except Exception as exc:  # one failing job must not end the loop
                log.error("%s job failed: %s", name, _describe(exc))
                log.debug("%s job traceback", name, exc_info=True)

        return run

    # Sync --------------------------------------------------------------------------------

    def sync_job(self) -> None:
        for source in self.sources:
            self.guard.check()
            if self.attempts.ready(source.name, self.clock()):
                self._sync_one(source)
            self._ping()

    def _sync_one(self, source: SourceConfig) -> None:
        self._set_status(f"syncing {source.name}")
        try:
            result = self._sync(self.config, self.store, source, self._progress)
        except Shutdown:
            log.info("sync %s interrupted; the next run resumes after its last batch", source.name)
            raise
        except Exception as exc:  # a connector bug must not stop the others
            log.error("sync %s failed: %s", source.name, _describe(exc))
            log.debug("sync %s traceback", source.name, exc_info=True)
            result = SourceResult(source.name, source.type, 0, _describe(exc))
        now = self.clock()
        if result.ok:
            self.attempts.succeeded(source.name, now, self.config.daemon.sync_every)
            return
        wait = self.attempts.failed(source.name, now)
        log.info(
            "sync %s: failure %d in a row; next try in %s",
            source.name, self.attempts.failures[source.name], _human(wait),
        )  # fmt: skip

    def _progress(self, source: str, folder: str, done: int, total: int | None) -> None:
        of = f"/{total}" if total is not None else ""
        self._set_status(f"syncing {source}: {folder} {done}{of}")
        self._ping()
        self.guard.check()  # a stop deferred during the batch's transaction takes effect here

    # Digest ------------------------------------------------------------------------------

    @property
    def digest_enabled(self) -> bool:
        return self.config.digest.every is not None and self.config.smtp is not None

    def digest_job(self) -> None:
        spec = self.config.digest.every
        if spec is None or not self.digest_enabled:
            return
        now = self.clock().astimezone(self.config.me.tz)
        period = due_period(spec, now, self.store.digest_sent)
        if period is None or not self.attempts.ready("digest", now):
            return
        if not self.store.has_data():
            # An empty archive is not a healthy network: no "all is well" mail before the
            # first sync has stored anything; the period is sent once there is something.
            log.info("digest %s not sent: nothing has been synced yet", period)
            return
        self._set_status(f"sending digest {period}")
        # Between the SMTP send and its record a signal must not cut in: that is a duplicate.
        with self.guard.critical():
            self._send_digest(period, now)

    def _send_digest(self, period: str, now: datetime) -> None:
        try:
            sent = self.deliver(self.config, self.store, now, period=period, send=True)
        except Exception as exc:  # an SMTP outage or a bug: either way, retry after a backoff
            wait = self.attempts.failed("digest", now)
            log.warning(
                "digest %s not sent: %s; retrying in %s", period, _describe(exc), _human(wait)
            )
            log.debug("digest %s traceback", period, exc_info=True)
            return
        self.attempts.succeeded("digest", now)
        log.info(
            "digest %s sent to %s (%d findings, message id %s)",
            period, sent.recipient, sent.findings, sent.message_id,
        )  # fmt: skip

    @property
    def deliver(self) -> Deliver:
        if self._deliver is None:
            # Imported on first use: the daemon syncs fine without the digest machinery.
            from agent.digest.delivery import deliver_digest

            self._deliver = deliver_digest
        return self._deliver

    # systemd -----------------------------------------------------------------------------

    def _ping(self, force: bool = False) -> None:
        if not self._watchdog:
            return
        now = time.monotonic()
        if force or now - self._last_ping >= self._watchdog / 2:
            self.notifier.watchdog()
            self._last_ping = now

    def _set_status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self.notifier.status(text)

    def _idle_status(self) -> str:
        failing = sorted(self.attempts.failures)
        parts = ["idle"]
        if failing:
            parts.append("failing: " + ", ".join(failing))
        spec = self.config.digest.every
        if spec is not None and self.digest_enabled:
            now = self.clock().astimezone(self.config.me.tz)
            nxt = next_digest(spec, now, self.store.digest_sent)
            parts.append(f"next digest {nxt:%a %Y-%m-%d %H:%M}")
        return "; ".join(parts)


def run(config: Config, store: Store, notifier: Notifier | None = None) -> None:
    """Take the database's lock and run the daemon until SIGTERM/SIGINT."""
    held = lock.acquire(store.engine)
    notifier = notifier or Notifier.from_environ()
    try:
        Daemon(config, store, notifier, timing=Timing.from_environ()).run()
    except Shutdown:
        pass  # a signal in the instant between the loop and its cleanup: still a clean stop
    finally:
        held.release()
        notifier.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AgentError):
        return str(exc).replace("\n", "; ")
    return f"{type(exc).__name__}: {exc}".replace("\n", "; ")


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
