"""Rows of the benchmark, the printed table, the target verdicts and the machine description."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any

# Targets from the performance issue; "about a second" for the digest is read as <= 1.5 s.
FIRST_SYNC_MAX_RATIO = 1.5
NOCHANGE_MAX_OVER_START = 2.0
DIGEST_MAX_SECONDS = 1.5
FLAT_MEMORY_MAX_GROWTH = 1.5


@dataclass
class Row:
    step: str
    backend: str  # "imap" for the floor, else the database
    seconds: float
    peak_rss_mib: float
    messages: int | None = None  # messages this step read from the server
    cpu_seconds: float | None = None
    ratio: float | None = None  # to the floor (syncs) or to process start (no-change)
    ratio_to: str = ""
    note: str = ""
    ok: bool = True
    mailbox: int = 0  # message files in the generated mailbox this row ran against

    @property
    def rate(self) -> float | None:
        if not self.messages or self.seconds <= 0:
            return None
        return self.messages / self.seconds


@dataclass
class Verdict:
    target: str
    met: bool | None  # None: not measured in this run
    detail: str


@dataclass
class Results:
    machine: dict[str, Any]
    spec: dict[str, Any]
    generated: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    scale: dict[str, Any] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for row, data in zip(self.rows, out["rows"], strict=True):
            data["messages_per_second"] = None if row.rate is None else round(row.rate, 1)
        return out

    def find(self, step: str, backend: str) -> Row | None:
        return next((r for r in self.rows if r.step == step and r.backend == backend), None)


def table(rows: list[Row]) -> str:
    """A Markdown table (reads fine in a terminal and pastes into the README)."""
    head = "| mailbox | step | backend | seconds | CPU s | msg/s | ratio | peak RSS MiB | note |"
    lines = [head, "|---:|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        rate = f"{r.rate:,.0f}" if r.rate else ""
        ratio = f"{r.ratio:.2f}x {r.ratio_to}" if r.ratio is not None else ""
        note = r.note if r.ok else f"FAILED: {r.note}"
        cpu = "" if r.cpu_seconds is None else f"{r.cpu_seconds:.2f}"
        lines.append(
            f"| {r.mailbox:,} | {r.step} | {r.backend} | {r.seconds:.2f} | {cpu} | {rate} | "
            f"{ratio} | {r.peak_rss_mib:.0f} | {note} |"
        )
    return "\n".join(lines)


def verdicts_text(verdicts: list[Verdict]) -> str:
    mark = {True: "MET", False: "NOT MET", None: "NOT MEASURED"}
    return "\n".join(f"- {mark[v.met]}: {v.target} -- {v.detail}" for v in verdicts)


def judge(results: Results, start_seconds: float) -> list[Verdict]:
    """Compare this run with the issue's targets; say plainly which fail and by how much."""
    out = [_first_sync(results), _no_change(results, start_seconds), _digest(results)]
    out.append(_memory(results))
    return out


def _first_sync(results: Results) -> Verdict:
    target = f"first sync on SQLite within {FIRST_SYNC_MAX_RATIO}x the protocol floor"
    row = results.find("sync, empty database", "sqlite")
    if row is None or not row.ok or row.ratio is None:
        return Verdict(target, None, "no successful first sync")
    detail = f"{row.ratio:.2f}x ({row.seconds:.1f} s)"
    return Verdict(target, row.ratio <= FIRST_SYNC_MAX_RATIO, detail)


def _no_change(results: Results, start: float) -> Verdict:
    target = f"no-change sync within {NOCHANGE_MAX_OVER_START}x of bare process start"
    row = results.find("sync, nothing new", "sqlite")
    if row is None or not row.ok:
        return Verdict(target, None, "no successful no-change sync")
    detail = f"{row.seconds:.2f} s vs {start:.2f} s process start"
    return Verdict(target, row.seconds <= start * NOCHANGE_MAX_OVER_START, detail)


def _digest(results: Results) -> Verdict:
    people = results.spec.get("people")
    target = f"digest for {people} people in about a second (<= {DIGEST_MAX_SECONDS} s)"
    row = results.find("digest --format json", "sqlite")
    if row is None or not row.ok:
        return Verdict(target, None, "no successful digest")
    return Verdict(target, row.seconds <= DIGEST_MAX_SECONDS, f"{row.seconds:.2f} s")


def _memory(results: Results) -> Verdict:
    target = f"peak RSS of a first sync flat as the mailbox grows (<= {FLAT_MEMORY_MAX_GROWTH}x)"
    small = results.scale.get("small", {}).get("sync_peak_rss_mib")
    big = results.find("sync, empty database", "sqlite")
    if not small or big is None or not big.ok:
        return Verdict(target, None, "needs the second, smaller size (drop --no-scale)")
    growth = big.peak_rss_mib / small
    sizes = f"{results.scale['small']['messages']:,} -> {results.spec['messages']:,} messages"
    detail = f"{small:.0f} -> {big.peak_rss_mib:.0f} MiB ({growth:.2f}x) for {sizes}"
    return Verdict(target, growth <= FLAT_MEMORY_MAX_GROWTH, detail)


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """Where the figures come from, including how busy the machine was."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "dovecot": _command_output(["/usr/sbin/dovecot", "--version"]),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    except OSError:
        return platform.system()


def _command_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "not installed"
