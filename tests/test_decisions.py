"""The agent listens: snooze, dismiss, log, forget, merge, tag and cadence from the command line,
kept in the database, undone, exported and imported (issue 11). The bundled sample mailbox
as of its own day: Eve and Frank are owed a reply, Dan is one-sided, Helen is overdue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent.cli.main import main
from agent.sample import AS_OF, write_sample

DAY = AS_OF.isoformat()


def run(config: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def ok(config: Path, *args: str) -> str:
    result = run(config, *args)
    assert result.exit_code == 0, result.output
    return str(result.output)


def findings(config: Path) -> set[tuple[str, str]]:
    digest = json.loads(ok(config, "digest", "--as-of", DAY, "--format", "json"))
    return {(f["rule"], f["person"]["name"]) for f in digest["findings"]}


def summary(config: Path) -> dict[str, Any]:
    return json.loads(ok(config, "digest", "--as-of", DAY, "--format", "json"))["summary"]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    config = write_sample(tmp_path)
    ok(config, "sync")
    return config


def test_snooze_hides_a_person_until_the_day_and_the_digest_counts_it(sample: Path) -> None:
    assert ("reply-owed", "Eve Laurent") in findings(sample)
    ok(sample, "snooze", "eve", "--until", "2026-12-31")
    shown = findings(sample)
    assert not any(name == "Eve Laurent" for _, name in shown)
    assert summary(sample)["hidden"] == {"snoozed": 2}  # reply-owed and not-reciprocating
    assert "Hidden by your decisions" in ok(sample, "digest", "--as-of", DAY)
    ok(sample, "sync")  # decisions survive a sync
    assert not any(name == "Eve Laurent" for _, name in findings(sample))


def test_snooze_one_rule_only(sample: Path) -> None:
    ok(sample, "snooze", "eve", "--rule", "reply-owed", "--for", "2w")
    shown = findings(sample)
    assert ("reply-owed", "Eve Laurent") not in shown
    assert ("not-reciprocating", "Eve Laurent") in shown


def test_dismiss_lasts_for_this_episode_only(sample: Path) -> None:
    ok(sample, "dismiss", "frank", "--rule", "reply-owed")
    assert ("reply-owed", "Frank Li") not in findings(sample)
    # Frank writes again: a new owed message is a new episode, and the finding is back.
    maildir = sample.parent / "Maildir" / "cur"
    (maildir / "frank-again.sample:2,S").write_text(
        "Message-ID: <frank-again@example.net>\r\nFrom: Frank Li <frank@example.net>\r\n"
        "To: ana@example.org\r\nDate: Tue, 17 Nov 2026 09:00:00 +0000\r\n"
        "Subject: One more question\r\n\r\nHi\r\n"
    )
    ok(sample, "sync")
    assert ("reply-owed", "Frank Li") in findings(sample)


def test_a_logged_call_answers_the_owed_reply(sample: Path) -> None:
    ok(sample, "log", "frank", "--kind", "call", "--date", "2026-11-18", "--note", "phoned")
    assert ("reply-owed", "Frank Li") not in findings(sample)
    frank = json.loads(ok(sample, "person", "frank", "--as-of", DAY, "--format", "json"))
    assert frank["stats"]["last_contact"] == "2026-11-18"


def test_forget_removes_a_person_says_why_and_can_be_undone(sample: Path) -> None:
    said = ok(sample, "forget", "dan", "--reason", "a vendor")
    assert ("one-sided", "Dan Okafor") not in findings(sample)
    why = run(sample, "person", "dan@startup.example", "--as-of", DAY)
    assert why.exit_code == 2 and "not a relationship" in why.output and "a vendor" in why.output
    number = said.split("decision ")[1].split(";")[0]
    ok(sample, "decisions", "--undo", number)
    assert ("one-sided", "Dan Okafor") in findings(sample)


def test_merge_tag_and_cadence(sample: Path) -> None:
    ok(sample, "merge", "iris", "bob")
    people = json.loads(ok(sample, "people", "--as-of", DAY, "--format", "json"))
    [iris] = [p for p in people if "iris@example.com" in p["person"]["emails"]]
    assert iris["person"]["name"] == "Iris Berg" and "bob@example.com" in iris["person"]["emails"]
    ok(sample, "tag", "carla", "family")
    ok(sample, "cadence", "iris", "2d")
    found = findings(sample)
    assert ("overdue", "Iris Berg") in found
    carla = json.loads(ok(sample, "person", "carla", "--as-of", DAY, "--format", "json"))
    assert "family" in carla["person"]["tags"]
    ok(sample, "tag", "carla", "family", "--remove")
    carla = json.loads(ok(sample, "person", "carla", "--as-of", DAY, "--format", "json"))
    assert "family" not in carla["person"]["tags"]


@pytest.mark.parametrize(
    ("args", "says"),
    [(["snooze", "eve", "--for", "3x"], "not a duration"),
     (["snooze", "eve", "--until", "2020-01-01"], "in the past"),
     (["snooze", "eve"], "--for DURATION or --until DATE"),
     (["dismiss", "eve", "--rule", "nope"], "no rule 'nope'"),
     (["log", "nobody-at-all"], "nobody matches"),
     (["snooze", "e", "--for", "1w"], "people match"),
     (["cadence", "eve", "soon"], "not a duration"),
     (["decisions", "--undo", "99"], "no decision 99")],
)  # fmt: skip
def test_bad_input_is_exit_2_and_changes_nothing(sample: Path, args: list[str], says: str) -> None:
    result = run(sample, *args)
    assert result.exit_code == 2 and says in result.output, result.output
    assert ok(sample, "decisions").strip() == "no decisions yet"


def test_export_and_import_carry_decisions_to_a_rebuilt_database(
    sample: Path, tmp_path: Path
) -> None:
    ok(sample, "snooze", "eve", "--until", "2026-12-31")
    ok(sample, "forget", "dan")
    before = findings(sample)
    export = tmp_path / "decisions.json"
    ok(sample, "decisions", "--export", str(export))
    (sample.parent / "agent.db").unlink()  # rebuilt: mail is read again, decisions come back
    ok(sample, "sync")
    assert findings(sample) != before
    ok(sample, "decisions", "--import", str(export))
    assert findings(sample) == before
    rows = json.loads(ok(sample, "decisions", "--format", "json"))
    assert [r["action"] for r in rows] == ["snooze", "forget"]
    assert all(r["origin"] == "import" for r in rows)


def test_person_shows_the_decisions_and_a_timeline(sample: Path) -> None:
    ok(sample, "log", "carla", "--kind", "call", "--date", "2026-11-10", "--note", "her move")
    ok(sample, "tag", "carla", "family")
    text = ok(sample, "person", "carla", "--as-of", DAY)
    assert "Your decisions:" in text and "log call on 2026-11-10 — her move" in text
    assert "  2026-11  " in text and "met 1" in text
    assert max(len(line) for line in text.splitlines()[-30:]) <= 100
    data = json.loads(ok(sample, "person", "carla", "--as-of", DAY, "--format", "json"))
    november = data["timeline"][-1]
    assert november == {"month": "2026-11", "out": 0, "in": 0, "met": 0, "logged": 1}
    assert len(data["timeline"]) == 12 and len(data["decisions"]) == 2


def test_a_snooze_that_ended_is_mentioned_in_the_next_digest(sample: Path, tmp_path: Path) -> None:
    # Ended three days before the digest (a TOML file, as a person would write one).
    decided = tmp_path / "mine.toml"
    decided.write_text(
        '[[decisions]]\naction = "snooze"\nperson = "eve@agency.example"\nuntil = "2026-11-17"\n'
    )
    ok(sample, "decisions", "--import", str(decided))
    back = summary(sample)
    assert back["back_from_snooze"] == ["Eve Laurent"] and back["hidden"] == {}
    assert "Back from snooze" in ok(sample, "digest", "--as-of", DAY)
    later = json.loads(ok(sample, "digest", "--as-of", "2026-12-01", "--format", "json"))
    assert later["summary"]["back_from_snooze"] == []  # mentioned once: a week later it is not


def test_a_broken_or_unwritable_decisions_file_is_exit_2_and_imports_nothing(
    sample: Path, tmp_path: Path
) -> None:
    for name, content in (("latin.json", "caf\xe9".encode("latin-1")), ("bad.json", b"{["),
                          ("bad.toml", b"decisions = 3")):  # fmt: skip
        path = tmp_path / name
        path.write_bytes(content)
        result = run(sample, "decisions", "--import", str(path))
        assert result.exit_code == 2 and f"{name}: " in result.output, result.output
        assert "Traceback" not in result.output
    result = run(sample, "decisions", "--export", str(tmp_path / "no" / "such" / "dir.json"))
    assert result.exit_code == 2 and "cannot write" in result.output
    assert ok(sample, "decisions").strip() == "no decisions yet"
