"""`agent status`: what the daemon has done and will do, read from the store (no network I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent.config.settings import Config
from agent.runtime import lock
from agent.runtime.daemon import due_period, next_digest
from agent.store.database import Store
from agent.store.reads import SyncRun

ERRORS_SCANNED = 200  # recent failed runs searched for each source's last error


@dataclass(frozen=True)
class StatusReport:
    """Plain data; ``to_json()`` is the `--format json` contract."""

    daemon_pid: int | None
    sources: list[dict[str, Any]]
    digest: dict[str, Any]
    recent_errors: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "daemon": {"running": self.daemon_pid is not None, "pid": self.daemon_pid},
            "sources": self.sources,
            "digest": self.digest,
            "recent_errors": self.recent_errors,
        }


def build_status(config: Config, store: Store, now: datetime) -> StatusReport:
    """Gather the report; ``now`` must be timezone-aware (it is shown in [me] timezone)."""
    tz = config.me.tz
    pid = lock.holder(store.engine)
    runs = store.last_runs()
    errors = store.recent_errors(ERRORS_SCANNED)
    sources = [
        _source(name, kind, runs.get(name), errors, running=pid is not None, tz=tz)
        for name, kind in _configured(config)
    ]
    recent = [_error(e, tz) for e in errors[:10]]
    return StatusReport(pid, sources, _digest(config, store, now.astimezone(tz)), recent)


def _configured(config: Config) -> list[tuple[str, str]]:
    return [(a.name, a.type) for a in config.accounts] + [
        (c.name, c.type) for c in config.calendars
    ]


def _source(
    name: str, kind: str, run: SyncRun | None, errors: list[SyncRun], running: bool, tz: ZoneInfo
) -> dict[str, Any]:
    last_error = next((e for e in errors if e.source == name), None)
    return {
        "name": name,
        "type": kind,
        "last_sync": _iso(run.started_at, tz) if run else None,
        "finished": _iso(run.finished_at, tz) if run else None,
        "new": run.new_count if run else None,
        "state": _state(run, running),
        "error": run.error if run else None,
        "last_error": _error(last_error, tz) if last_error else None,
    }


def _state(run: SyncRun | None, daemon_running: bool) -> str:
    if run is None:
        return "never"
    if run.finished_at is None:
        # Unfinished with no daemon alive means the process died mid-sync (kill -9, power cut).
        return "running" if daemon_running else "interrupted"
    return "ok" if run.ok else "failed"


def _error(run: SyncRun, tz: ZoneInfo) -> dict[str, Any]:
    return {"source": run.source, "at": _iso(run.started_at, tz), "error": run.error}


def _digest(config: Config, store: Store, now: datetime) -> dict[str, Any]:
    spec = config.digest.every
    last = store.last_digest()
    out: dict[str, Any] = {
        "schedule": str(spec) if spec else None,
        "last": {**last, "sent_at": _iso(last["sent_at"], now.tzinfo)} if last else None,
        "next": None,
        "due": False,
    }
    if spec is not None and config.smtp is not None:
        out["next"] = _iso(next_digest(spec, now, store.digest_sent), now.tzinfo)
        out["due"] = due_period(spec, now, store.digest_sent) is not None
    return out


def _iso(value: datetime | None, tz: Any) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else None


def render_table(report: StatusReport) -> str:
    """The human view: one line per source, then the digest."""
    lines = [_daemon_line(report.daemon_pid), ""]
    rows = [["SOURCE", "TYPE", "LAST SYNC", "NEW", "STATE", "LAST ERROR"]]
    rows += [_source_row(s) for s in report.sources]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5]
        )
    if not report.sources:
        lines.append("(no [[accounts]] or [[calendars]] configured)")
    lines += ["", *_digest_lines(report.digest)]
    return "\n".join(line.rstrip() for line in lines)


def _daemon_line(pid: int | None) -> str:
    if pid is None:
        return "daemon: not running"
    return f"daemon: running (pid {pid})" if pid > 0 else "daemon: running"


def _source_row(source: dict[str, Any]) -> list[str]:
    last = source["last_error"]
    error = f"{_short(last['at'])}: {last['error']}" if last else "-"
    new = "-" if source["new"] is None else str(source["new"])
    return [
        source["name"],
        source["type"],
        _short(source["last_sync"]),
        new,
        source["state"],
        error,
    ]


def _digest_lines(digest: dict[str, Any]) -> list[str]:
    if digest["schedule"] is None:
        return ["digest: not scheduled (set [digest] every)"]
    last = digest["last"]
    sent = (
        f"{last['period']} sent {_short(last['sent_at'])} to {last['recipient']} "
        f"({last['findings']} findings)"
        if last
        else "never"
    )
    if digest["next"] is None:
        upcoming = "not sent by the daemon: no [smtp] configured"
    elif digest["due"]:
        upcoming = "due now (the daemon sends it on its next tick)"
    else:
        upcoming = _short(digest["next"])
    return [f"last digest: {sent}", f"next digest: {upcoming} ({digest['schedule']})"]


def _short(iso: str | None) -> str:
    # "2026-11-20T10:15:03+01:00" -> "2026-11-20 10:15": the zone is always [me] timezone.
    return iso[:16].replace("T", " ") if iso else "never"
