"""`make bench`: sync a large generated mailbox from a real Dovecot and compare with the floor.

One run measures, side by side: the protocol floor (imapclient fetching the same header fields
in the same batches, discarding them), `agent sync` on an empty database, again with nothing
new and with 100 new messages, then `agent people` and `agent digest` on the result; the same
on PostgreSQL; and a first sync at a second, smaller size to show how cost and memory grow.
Every step is the real CLI in its own process. Prints a table and the target verdicts, writes
JSON (see bench/README.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench import measure, report
from bench.generate import END, ME_EMAILS, ME_NAME, Spec, deliver_new, generate
from bench.report import Results, Row
from bench.servers import Dovecot, dovecot, ensure_system_deps, postgres

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
AS_OF = END.date().isoformat()
NEW_MESSAGES = 100


@dataclass
class Context:
    """What every step needs: the server, the run's settings and where rows go."""

    imap: Dovecot
    spec: Spec
    batch: int
    profile: str | None
    results: Results
    tmp: Path
    in_server: int  # message files the server holds now
    in_db_expected: int  # distinct messages the database should hold after a full sync


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    ensure_system_deps(REPO)
    load_before = os.getloadavg()
    spec = Spec(args.messages, args.people, args.years, args.list_share)
    results = Results(machine={}, spec={**asdict(spec), "batch": args.batch}, generated={})
    start = _process_start(results, spec.messages)
    _run_size(results, spec, args, backends=_backends(args))
    if args.scale:
        small = _smaller(spec, args.scale_fraction)
        _run_size(results, small, args, backends=("sqlite",), full=False)
        results.scale["small"] = _scale_summary(results, small)
    results.machine = report.machine(load_before)
    results.verdicts = report.judge(results, start)
    _print_and_save(results, Path(args.out))
    return 0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=50_000, help="mailbox size (files)")
    p.add_argument("--people", type=int, default=2_000, help="correspondents")
    p.add_argument("--years", type=float, default=5.0, help="time span of the mailbox")
    p.add_argument("--list-share", type=float, default=0.15, help="share of mailing-list mail")
    p.add_argument("--batch", type=int, default=500, help="UIDs per FETCH (floor and agent)")
    p.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=True)
    scale = "also time a first sync at a smaller size (cost and memory growth)"
    p.add_argument("--scale", action=argparse.BooleanOptionalAction, default=True, help=scale)
    p.add_argument("--scale-fraction", type=float, default=0.2)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "latest.json"))
    p.add_argument(
        "--profile",
        metavar="PATH",
        help="also run one first sync (SQLite) under pyinstrument; text report to PATH",
    )
    p.add_argument("--quick", action="store_true",
                   help="2,000 messages, 200 people, SQLite only: a smoke test")  # fmt: skip
    args = p.parse_args(argv)
    if args.profile and importlib.util.find_spec("pyinstrument") is None:
        p.error("--profile needs pyinstrument: .venv/bin/pip install pyinstrument")
    if args.quick:
        args.messages, args.people, args.postgres, args.scale = 2_000, 200, False, False
    return args


def _backends(args: argparse.Namespace) -> tuple[str, ...]:
    return ("sqlite", "postgresql") if args.postgres else ("sqlite",)


def _smaller(spec: Spec, fraction: float) -> Spec:
    return replace(
        spec,
        messages=max(500, round(spec.messages * fraction)),
        people=max(50, round(spec.people * fraction)),
    )


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- one mailbox size -----------------------------------------------------------------------


def _run_size(
    results: Results,
    spec: Spec,
    args: argparse.Namespace,
    backends: tuple[str, ...],
    full: bool = True,
) -> None:
    with dovecot() as imap, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        _log(f"generating {spec.messages:,} messages for {spec.people:,} people")
        summary = generate(imap.maildir, spec)
        imap.chown_tree()
        if full:
            results.generated = asdict(summary)
        ctx = Context(imap, spec, args.batch, args.profile if full else None, results,
                      Path(tmp), summary.files, summary.distinct)  # fmt: skip
        # Dovecot indexes and caches the header fields on first sight; every later reader
        # finds them cached. Pay that once, outside the comparison, and record it.
        _floor(ctx, "protocol floor, cold server")
        for backend in backends:
            _agent_steps(ctx, backend, full)


def _agent_steps(ctx: Context, backend: str, full: bool) -> None:
    if backend == "postgresql":
        with postgres() as pg:
            _agent_steps_on(ctx, backend, pg.url, full)
    else:
        _agent_steps_on(ctx, backend, f"sqlite:///{ctx.tmp}/agent.db", full)
    if backend != "sqlite":
        return
    if full:
        _breakdown(ctx, f"sqlite:///{ctx.tmp}/breakdown.db")
    if ctx.profile:
        _profile(ctx, f"sqlite:///{ctx.tmp}/profiled.db", Path(ctx.profile))
        _profile(ctx, f"sqlite:///{ctx.tmp}/agent.db", Path(ctx.profile), "digest",
                 "--format", "json", "--as-of", AS_OF)  # fmt: skip


def _agent_steps_on(ctx: Context, backend: str, url: str, full: bool) -> None:
    config = _write_config(ctx, backend, url)
    floor = _floor(ctx, "protocol floor")
    _sync(ctx, config, backend, url, "sync, empty database", ctx.in_server, floor)
    if full:
        _sync(ctx, config, backend, url, "sync, nothing new", 0, None)
        _deliver(ctx)
        _sync(ctx, config, backend, url, f"sync, {NEW_MESSAGES} new", NEW_MESSAGES, None)
    _people(ctx, config, backend)
    _digest(ctx, config, backend)


def _profile(ctx: Context, url: str, out_dir: Path, *command: str) -> None:
    """One command (default: a first sync) under pyinstrument, wall clock, so IMAP waits
    show up as socket reads. Not a row of the table: the profiler's overhead skews timing.
    """
    command = command or ("sync",)
    config = _write_config(ctx, f"profile-{command[0]}", url)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = (out_dir / f"profile-{command[0]}-{ctx.spec.messages}.txt").resolve()
    cmd = [str(BIN / "python"), "-m", "pyinstrument", "-r", "text", "-o", str(out),
           str(BIN / "agent"), "--config", str(config), *command]  # fmt: skip
    m = measure.run(cmd, env=_env(ctx), cwd=str(ctx.tmp))
    _log(f"profiled {command[0]}: {m.seconds:.1f} s -> {out}" if m.ok else _tail(m.stderr))


def _breakdown(ctx: Context, url: str) -> None:
    """The first sync's stages timed one by one (bench/breakdown.py), as extra rows."""
    cmd = [str(BIN / "python"), "-m", "bench.breakdown", "--port", str(ctx.imap.port),
           "--user", ctx.imap.user, "--batch", str(ctx.batch), "--db", url]  # fmt: skip
    m = measure.run(cmd, env=_env(ctx), cwd=str(REPO))
    if not m.ok:
        _add(ctx, Row("breakdown", "sqlite", m.seconds, m.peak_rss_mib, note=_tail(m.stderr),
                      ok=False))  # fmt: skip
        return
    data = json.loads(m.stdout)
    n = data["messages"]
    labels = {
        "fetch": "stage: IMAP fetch + FETCH reader",
        "parse": "stage: parse_headers",
        "store": "stage: Store.ingest",
    }
    for key, label in labels.items():
        wall, cpu = data[key]["wall"], data[key]["cpu"]
        # Wall minus CPU: waiting for Dovecot, or for a core when the machine is busy.
        note = f"{cpu / n * 1e6:.0f} µs CPU/msg, off-CPU {max(0.0, wall - cpu):.2f} s"
        _add(ctx, Row(label, "sqlite", wall, m.peak_rss_mib, n, note=note, cpu_seconds=cpu))


def _deliver(ctx: Context) -> None:
    salt = ctx.in_server  # a different batch of new messages for each backend
    summary = deliver_new(ctx.imap.maildir, ctx.spec, NEW_MESSAGES, salt)
    ctx.imap.chown_tree()
    ctx.in_server += summary.files
    ctx.in_db_expected += summary.distinct


# -- steps ----------------------------------------------------------------------------------


def _env(ctx: Context) -> dict[str, str]:
    home = ctx.tmp / "home"
    home.mkdir(exist_ok=True)
    # A private HOME / XDG tree: the bench never reads or writes the user's own agent files.
    return {
        **os.environ, "BENCH_IMAP_PASSWORD": ctx.imap.password, "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"), "PYTHONPATH": str(REPO),
    }  # fmt: skip


def _add(ctx: Context, row: Row) -> Row:
    row.mailbox = ctx.spec.messages
    ctx.results.rows.append(row)
    _log(f"{row.step} [{row.backend}]: {row.seconds:.2f} s, {row.peak_rss_mib:.0f} MiB {row.note}")
    return row


def _process_start(results: Results, mailbox: int) -> float:
    """Bare interpreter + CLI import: the floor under any no-change sync.

    The median of five: the first run after an install also compiles bytecode.
    """
    runs = sorted((measure.run([str(BIN / "agent"), "--version"]) for _ in range(5)),
                  key=lambda m: m.seconds)  # fmt: skip
    m = runs[len(runs) // 2]
    results.rows.append(Row("process start (agent --version)", "-", m.seconds, m.peak_rss_mib,
                            note="median of 5", ok=m.ok, mailbox=mailbox,
                            cpu_seconds=m.cpu_seconds))  # fmt: skip
    return m.seconds


def _floor(ctx: Context, step: str) -> float:
    cmd = [str(BIN / "python"), "-m", "bench.floor", "--port", str(ctx.imap.port),
           "--user", ctx.imap.user, "--batch", str(ctx.batch)]  # fmt: skip
    m = measure.run(cmd, env=_env(ctx), cwd=str(REPO))
    note = m.stdout.strip() if m.ok else _tail(m.stderr)
    row = Row(step, "imap", m.seconds, m.peak_rss_mib, ctx.in_server, note=note, ok=m.ok)
    row.cpu_seconds = m.cpu_seconds
    _add(ctx, row)
    return m.seconds


def _sync(
    ctx: Context, config: Path, backend: str, url: str, step: str, reads: int, floor: float | None
) -> None:
    cmd = [str(BIN / "agent"), "--config", str(config), "sync"]
    m = measure.run(cmd, env=_env(ctx), cwd=str(ctx.tmp))
    stored = _stored(url)
    note = f"{stored:,} stored" + ("" if stored == ctx.in_db_expected else
                                   f" (expected {ctx.in_db_expected:,})")  # fmt: skip
    if not m.ok:
        note = _tail(m.stderr or m.stdout)
    row = Row(step, backend, m.seconds, m.peak_rss_mib, reads or None, note=note, ok=m.ok)
    row.cpu_seconds = m.cpu_seconds
    if floor:
        row.ratio, row.ratio_to = m.seconds / floor, "floor"
    _add(ctx, row)


def _people(ctx: Context, config: Path, backend: str) -> None:
    m = _cli(ctx, config, "people", "--format", "json", "--as-of", AS_OF)
    note = f"{len(json.loads(m.stdout)):,} people" if m.ok else _tail(m.stderr)
    _add(ctx, Row("people --format json", backend, m.seconds, m.peak_rss_mib, note=note, ok=m.ok,
                  cpu_seconds=m.cpu_seconds))  # fmt: skip


def _digest(ctx: Context, config: Path, backend: str) -> None:
    m = _cli(ctx, config, "digest", "--format", "json", "--as-of", AS_OF)
    if m.ok:
        data = json.loads(m.stdout)
        note = f"{len(data.get('findings', [])):,} findings, summary {data.get('summary')}"
    else:
        note = _tail(m.stderr)
    _add(ctx, Row("digest --format json", backend, m.seconds, m.peak_rss_mib, note=note, ok=m.ok,
                  cpu_seconds=m.cpu_seconds))  # fmt: skip


def _cli(ctx: Context, config: Path, command: str, *args: str) -> measure.Measured:
    cmd = [str(BIN / "agent"), "--config", str(config), command, *args]
    return measure.run(cmd, env=_env(ctx), cwd=str(ctx.tmp))


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _stored(url: str) -> int:
    from agent.store.database import (
        Store,  # imported late: the bench itself stays light until needed
    )

    store = Store.open(url)
    try:
        return store.message_count()
    finally:
        store.close()


def _write_config(ctx: Context, backend: str, url: str) -> Path:
    path = ctx.tmp / f"config-{backend}.toml"
    emails = ", ".join(f'"{e}"' for e in ME_EMAILS)
    path.write_text(
        f"""[me]
name = "{ME_NAME}"
emails = [{emails}]
timezone = "Europe/Berlin"

[database]
url = "{url}"

[[accounts]]
name = "bench"
type = "imap"
host = "127.0.0.1"
port = {ctx.imap.port}
security = "none"
username = "{ctx.imap.user}"
password_env = "BENCH_IMAP_PASSWORD"
folders = ["INBOX", "Sent"]
batch_size = {ctx.batch}
""",
        encoding="utf-8",
    )
    return path


# -- results --------------------------------------------------------------------------------


def _scale_summary(results: Results, small: Spec) -> dict[str, object]:
    rows = [r for r in results.rows if r.mailbox == small.messages and r.backend == "sqlite"]
    by_step = {r.step: r for r in rows}
    sync = by_step.get("sync, empty database")
    return {
        "messages": small.messages,
        "people": small.people,
        "sync_seconds": sync.seconds if sync else None,
        "sync_peak_rss_mib": sync.peak_rss_mib if sync else None,
        "people_seconds": _seconds(by_step.get("people --format json")),
        "digest_seconds": _seconds(by_step.get("digest --format json")),
    }


def _seconds(row: Row | None) -> float | None:
    return row.seconds if row and row.ok else None


def _print_and_save(results: Results, out: Path) -> None:
    print(report.table(results.rows))
    print()
    print(report.verdicts_text(results.verdicts))
    load = results.machine["loadavg_before"], results.machine["loadavg_after"]
    print(f"\nmachine: {results.machine['cpu']}, {results.machine['cores']} cores, "
          f"load average before/after {load[0]} / {load[1]}")  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
    print(f"results written to {out}")


if __name__ == "__main__":
    sys.exit(main())
