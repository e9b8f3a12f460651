"""`make eval`: the digest on real mail, against a careful human reader's judgement.

For each Enron mailbox in ../shared/corpora: link its files into a Maildir (one Maildir folder
per original folder; a file's base name keeps its original path, so every stored message leads
back to the raw file), write a config with the owner's addresses, run `agent sync` and
`agent digest --format json` through the real command line, and compare each finding with
tests/eval/judgements.csv (mailbox, rule, person, verdict, reason). The judgements were made by
reading the raw messages behind each finding, not what the agent says about them.

    python -m tests.eval.run                    # precision per rule and mailbox, unjudged list
    python -m tests.eval.run --explain fossum-d bill.cordes@enron.com   # the mail behind one
    python -m tests.eval.run --findings out.csv # every finding, for judging

Exit status: 0 when it ran (precision is reported, not enforced); 2 without the corpora.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.mail.headers import parse_headers, split_fields
from tests.eval.mailboxes import MAILBOXES, Mailbox

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT.parent / "shared" / "corpora" / "enron" / "maildir"
JUDGEMENTS = Path(__file__).with_name("judgements.csv")
WORK = Path(os.environ.get("AGENT_EVAL_DIR", ROOT / "build" / "eval"))
SEP = "~"  # joins original folder and file name in a Maildir base name


@dataclass(frozen=True)
class Finding:
    mailbox: str
    rule: str
    person: str  # the finding's first address: the key judgements use
    emails: tuple[str, ...]
    name: str
    message: str


def build_maildir(box: Mailbox, root: Path) -> list[str]:
    """Link every file of the mailbox into a Maildir++ at ``root``; return the folder names."""
    source = CORPORA / box.name
    folders = sorted(p.name for p in source.iterdir() if p.is_dir())
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for folder in folders:
        target = root / f".{folder}" / "cur"
        target.mkdir(parents=True, exist_ok=True)
        for sub in ("new", "tmp"):
            (root / f".{folder}" / sub).mkdir(exist_ok=True)
        for path in _files(source / folder):
            rel = path.relative_to(source / folder).as_posix().replace("/", SEP)
            link = target / f"{folder}{SEP}{rel}:2,S"
            if not link.exists():
                _link(path, link)
    return folders


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        target.symlink_to(source)


def write_config(box: Mailbox, work: Path, folders: list[str] | None) -> Path:
    emails = ", ".join(json.dumps(e) for e in box.emails)
    listed = f"folders = {json.dumps(folders)}\n" if folders else ""
    config = work / "config.toml"
    config.write_text(
        f'[me]\nname = "{box.owner}"\nemails = [{emails}]\ntimezone = "America/Chicago"\n'
        f'language = "en"\n\n[database]\nurl = "sqlite:///{work}/agent.db"\n\n'
        f'[[accounts]]\nname = "enron"\ntype = "maildir"\npath = "{work}/Maildir"\n{listed}'
        f"\n[rules]\nfiles = []\n"
    )
    return config


def agent(config: Path, *args: str) -> str:
    env = {**os.environ, "AGENT_CONFIG": str(config), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "agent", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"agent {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def findings_of(box: Mailbox, all_folders: bool, root: Path | None = None) -> list[Finding]:
    work = (root or WORK) / box.name
    if (work / "agent.db").exists():
        (work / "agent.db").unlink()
    folders = build_maildir(box, work / "Maildir")
    config = write_config(box, work, folders if all_folders else None)
    agent(config, "sync")
    digest = json.loads(agent(config, "digest", "--format", "json", "--as-of", box.as_of))
    out = []
    for f in digest["findings"]:
        person = f["person"]
        emails = tuple(person["emails"])
        out.append(Finding(box.name, f["rule"], emails[0], emails, person["name"], f["message"]))
    return out


def load_judgements() -> dict[tuple[str, str, str], tuple[str, str]]:
    if not JUDGEMENTS.exists():
        return {}
    with JUDGEMENTS.open(newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return {
            (r["mailbox"], r["rule"], r["person"].lower()): (r["verdict"], r["reason"])
            for r in rows
        }


def judge(
    found: list[Finding], judged: dict[tuple[str, str, str], tuple[str, str]]
) -> dict[Finding, str | None]:
    """Each finding's verdict ("right" / "wrong"), or None when nobody judged it yet.

    A finding matches a judgement by mailbox, rule and any of the person's addresses, so a
    merge that changes which address comes first keeps its judgement.
    """
    out: dict[Finding, str | None] = {}
    for f in found:
        verdict = None
        for email in f.emails:
            hit = judged.get((f.mailbox, f.rule, email.lower()))
            if hit is not None:
                verdict = hit[0]
                break
        out[f] = verdict
    return out


def report(verdicts: dict[Finding, str | None], judged: dict[tuple[str, str, str], Any]) -> None:
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    by_box: dict[str, Counter[str]] = defaultdict(Counter)
    for f, v in verdicts.items():
        by_rule[f.rule][v or "unjudged"] += 1
        by_box[f.mailbox][v or "unjudged"] += 1
    total: Counter[str] = Counter(v or "unjudged" for v in verdicts.values())
    print(_table("rule", by_rule) + "\n")
    print(_table("mailbox", by_box) + "\n")
    print(_line("all", total))
    _recall(verdicts, judged)
    unjudged = [f for f, v in verdicts.items() if v is None]
    if unjudged:
        print(f"\n{len(unjudged)} findings nobody has judged yet:")
        for f in unjudged:
            print(f"  {f.mailbox},{f.rule},{f.person}  {f.message}")


def recall(
    verdicts: dict[Finding, str | None], judged: dict[tuple[str, str, str], Any]
) -> tuple[int, int, int, int]:
    """(judged right and still raised, judged right, judged wrong and still raised, wrong)."""
    raised = {(f.mailbox, f.rule, e.lower()) for f in verdicts for e in f.emails}
    right = [k for k, (v, _) in judged.items() if v == "right"]
    wrong = [k for k, (v, _) in judged.items() if v == "wrong"]
    kept = sum(1 for k in right if k in raised)
    still = sum(1 for k in wrong if k in raised)
    return kept, len(right), still, len(wrong)


def _recall(verdicts: dict[Finding, str | None], judged: dict[tuple[str, str, str], Any]) -> None:
    kept, right, still, wrong = recall(verdicts, judged)
    print(
        f"judged right and still raised: {kept}/{right}; "
        f"judged wrong and still raised: {still}/{wrong}"
    )


def _table(label: str, rows: dict[str, Counter[str]]) -> str:
    head = f"{label:<20} {'right':>6} {'wrong':>6} {'unsure':>6} {'unjudged':>8} {'precision':>9}"
    return "\n".join([head, *(_line(k, c) for k, c in sorted(rows.items()))])


def _line(label: str, c: Counter[str]) -> str:
    decided = c["right"] + c["wrong"]
    precision = f"{c['right'] / decided:.0%}" if decided else "-"
    return (
        f"{label:<20} {c['right']:>6} {c['wrong']:>6} {c['unsure']:>6} {c['unjudged']:>8} "
        f"{precision:>9}"
    )


def explain(box_name: str, email: str) -> None:
    """Every file of the mailbox that names ``email`` in From, To, Cc or Bcc, oldest first."""
    rows = []
    for path in _files(CORPORA / box_name):
        raw = path.read_bytes().split(b"\n\n", 1)[0]
        meta = parse_headers(raw)
        people = {a.email for a in meta.recipients} | (
            {meta.sender.email} if meta.sender else set()
        )
        if email.lower() not in people:
            continue
        subject = split_fields(raw).get("subject", "")[:70]
        sender = meta.sender.email if meta.sender else "?"
        rows.append((meta.date, sender, len(meta.recipients), subject, path))
    for date, sender, count, subject, path in sorted(rows, key=lambda r: r[0]):
        rel = path.relative_to(CORPORA)
        print(f"{date:%Y-%m-%d %H:%M} {sender:<34} rcpt={count:<3} {subject:<70} {rel}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mailbox", action="append", help="only this mailbox (repeatable)")
    parser.add_argument("--explain", nargs=2, metavar=("MAILBOX", "EMAIL"))
    parser.add_argument("--findings", metavar="CSV", help="write every finding to this file")
    parser.add_argument(
        "--all-folders", action="store_true", help="list every folder in the config "
        "instead of relying on the default folder choice"
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not CORPORA.is_dir():
        print(f"make eval: {CORPORA} not found (the shared corpora)", file=sys.stderr)
        return 2
    if args.explain:
        explain(*args.explain)
        return 0
    boxes = [b for b in MAILBOXES if not args.mailbox or b.name in args.mailbox]
    found: list[Finding] = []
    for box in boxes:
        print(f"{box.name}: syncing and building the digest as of {box.as_of}", file=sys.stderr)
        found += findings_of(box, args.all_folders)
    judged = load_judgements()
    judged = {k: v for k, v in judged.items() if k[0] in {b.name for b in boxes}}
    verdicts = judge(found, judged)
    if args.findings:
        _write_findings(Path(args.findings), verdicts)
    report(verdicts, judged)
    return 0


def _write_findings(path: Path, verdicts: dict[Finding, str | None]) -> None:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["mailbox", "rule", "person", "emails", "name", "verdict", "message"])
        for f, v in verdicts.items():
            out.writerow(
                [f.mailbox, f.rule, f.person, " ".join(f.emails), f.name, v or "", f.message]
            )


if __name__ == "__main__":
    sys.exit(main())
