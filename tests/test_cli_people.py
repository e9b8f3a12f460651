"""`agent sync`, `agent people`, `agent person` on the bundled sample mailbox (Maildir, SQLite)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent.cli.main import main
from agent.sample import AS_OF, write_sample

DAY = AS_OF.isoformat()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = write_sample(tmp_path_factory.mktemp("sample"))
    result = CliRunner().invoke(main, ["--config", str(config), "sync"])
    assert result.exit_code == 0, result.output
    return config


def agent(config: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def people_json(config: Path) -> dict[str, dict[str, Any]]:
    result = agent(config, "people", "--as-of", DAY, "--format", "json")
    assert result.exit_code == 0, result.output
    return {p["person"]["emails"][0]: p for p in json.loads(result.output)}


def test_sync_reports_counts_and_second_sync_adds_nothing(sample: Path) -> None:
    result = agent(sample, "sync")
    assert result.exit_code == 0
    assert result.output.strip() == "sample: 0 new messages\ncalendar: 0 new meetings"


def test_people_json_follows_the_contract(sample: Path) -> None:
    people = people_json(sample)
    carla = people["carla@example.com"]
    assert set(carla["person"]) == {"id", "name", "emails", "tags"}
    assert carla["person"]["name"] == "Carla Diaz"
    stats = carla["stats"]
    assert stats["emails_sent"] == 50 and stats["emails_received"] == 50
    assert stats["interactions"] == 100
    assert stats["silence_days"] == 199
    assert stats["threads_started_by_me"] + stats["threads_started_by_them"] == 50
    assert stats["last_contact"] == "2026-05-05"


def test_bulk_automated_and_mass_mail_make_no_people(sample: Path) -> None:
    emails = set(people_json(sample))
    assert "news@newsletter.example" not in emails
    assert "notifications@github.example" not in emails
    assert "mailer-daemon@example.org" not in emails
    assert not any(e.endswith("@club.example") for e in emails)
    assert len(emails) == 8  # the planted people and Grace, met once (calendar)


def test_configured_person_has_tags_and_cadence(sample: Path) -> None:
    helen = people_json(sample)["helen@university.example"]
    assert helen["person"]["tags"] == ["mentor"]
    assert helen["stats"]["cadence_days"] == 90
    assert helen["stats"]["overdue_days"] == helen["stats"]["silence_days"] - 90 > 0


def test_person_ids_are_stable_across_runs(sample: Path) -> None:
    first = {e: p["person"]["id"] for e, p in people_json(sample).items()}
    second = {e: p["person"]["id"] for e, p in people_json(sample).items()}
    assert first == second


def test_as_of_is_reproducible_and_earlier_dates_see_less(sample: Path) -> None:
    earlier = agent(sample, "people", "--as-of", "2026-01-01", "--format", "json")
    people = {p["person"]["emails"][0]: p for p in json.loads(earlier.output)}
    assert people["carla@example.com"]["stats"]["silence_days"] < 30
    assert "frank@example.net" not in people  # first wrote in May 2026


def test_people_table(sample: Path) -> None:
    result = agent(sample, "people", "--as-of", DAY)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["id", "name", "email"]
    assert any("Carla Diaz" in line and "199" in line for line in lines)


def test_person_not_found_and_ambiguous_are_usage_errors(sample: Path) -> None:
    assert agent(sample, "person", "nobody-like-this", "--as-of", DAY).exit_code == 2
    ambiguous = agent(sample, "person", "example.com", "--as-of", DAY)
    assert ambiguous.exit_code == 2
    assert "match" in ambiguous.output


@pytest.mark.parametrize("bad", ["someday", "2026-02-30", "9999-12-31", "20261120", "-7x"])
def test_bad_as_of_is_a_usage_error(sample: Path, bad: str) -> None:
    result = agent(sample, "people", "--as-of", bad)
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.parametrize("day", ["2026-11-20", "today", "yesterday", "-7d", "-2w"])
def test_as_of_takes_iso_dates_and_relative_days(sample: Path, day: str) -> None:
    assert agent(sample, "people", "--as-of", day).exit_code == 0


def test_sync_unknown_source_is_a_usage_error(sample: Path) -> None:
    result = agent(sample, "sync", "--source", "nope")
    assert result.exit_code == 2
    assert "no source named 'nope'" in result.output


def test_sync_failure_exits_1_and_names_the_source(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[me]\nname="A"\nemails=["a@x.org"]\n'
        f'[database]\nurl="sqlite:///{tmp_path}/a.db"\n'
        '[[accounts]]\nname="gone"\ntype="maildir"\npath="/nonexistent/maildir"\n'
    )
    result = agent(config, "sync")
    assert result.exit_code == 2 or result.exit_code == 1
    assert "gone" in result.output
    assert "Traceback" not in result.output


def test_every_builtin_rule_finds_exactly_its_planted_person(sample: Path) -> None:
    result = agent(sample, "digest", "--as-of", DAY, "--format", "json")
    assert result.exit_code == 0, result.output
    found = {(f["rule"], f["person"]["name"]) for f in json.loads(result.output)["findings"]}
    assert found == {
        ("fading", "Carla Diaz"),
        ("one-sided", "Dan Okafor"),
        ("not-reciprocating", "Eve Laurent"),
        ("reply-owed", "Frank Li"),
        ("reply-owed", "Eve Laurent"),  # six messages since my one answer
        ("follow-up", "Grace Kim"),
        ("overdue", "Helen Novak"),
    }


def test_meetings_count_and_a_cancelled_one_does_not(sample: Path) -> None:
    people = people_json(sample)
    grace = people["grace@venture.example"]["stats"]
    assert (grace["meetings"], grace["first_contact_meeting"]) == (1, True)
    assert grace["silence_days"] == 9
    # Carla's lunch 40 days ago was cancelled: her silence is still 199 days.
    assert people["carla@example.com"]["stats"]["meetings"] == 0
    assert people["carla@example.com"]["stats"]["silence_days"] == 199


def test_check_offline_reads_local_sources(tmp_path: Path) -> None:
    config = write_sample(tmp_path / "sample")
    ok = agent(config, "check", "--offline")
    assert ok.exit_code == 0, ok.output
    assert "sample: ok: 2 folders (INBOX, Sent)" in ok.output
    assert "calendar: ok: 2 events, 1 occurrence with you" in ok.output
    (tmp_path / "sample" / "calendar.ics").unlink()
    shutil.rmtree(tmp_path / "sample" / "Maildir" / "cur")
    shutil.rmtree(tmp_path / "sample" / "Maildir" / "new")
    bad = agent(config, "check", "--offline")
    assert bad.exit_code == 2
    assert "sample: FAILED: [accounts.sample] path:" in bad.output
    assert "calendar: FAILED: [calendars.calendar] url: no file" in bad.output
