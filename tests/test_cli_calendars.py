"""The command line with [[calendars]]: one calendar as a file, over HTTP and over CalDAV.

The three sources hold the same events, as when a calendar is both subscribed and synced:
every meeting counts once, a re-sync adds nothing, and each failure has its exit code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent.cli.main import main
from tests.servers.http_feed import Feed, serve_feed
from tests.servers.radicale import Radicale
from tests.test_caldav import TEAM, upload

DATA = Path(__file__).parent / "data" / "calendars"
DAY = "2025-03-01"


@pytest.fixture
def feed():
    with serve_feed(TEAM) as f:
        yield f


@pytest.fixture
def config(tmp_path: Path, radicale: Radicale, feed: Feed, monkeypatch) -> Path:
    url = radicale.calendar_url()
    upload(radicale, url)
    monkeypatch.setenv("DAV_PASSWORD", radicale.password)
    path = tmp_path / "config.toml"
    for sub in ("cur", "new", "tmp"):  # an empty mailbox: a config needs a mail account
        (tmp_path / "Mail" / sub).mkdir(parents=True)
    path.write_text(f"""
[me]
name = "Ana Example"
emails = ["ana@example.org", "ana.private@example.net"]
timezone = "Europe/Berlin"

[database]
url = "sqlite:///{tmp_path / "agent.db"}"

[[accounts]]
name = "mail"
type = "maildir"
path = "{tmp_path / "Mail"}"

[[calendars]]
name = "file"
type = "ics"
url = "{DATA / "team.ics"}"

[[calendars]]
name = "feed"
type = "ics"
url = "{feed.url()}"
timeout = 5

[[calendars]]
name = "dav"
type = "caldav"
url = "{url}"
username = "{radicale.user}"
password_env = "DAV_PASSWORD"
timeout = 5
""")
    return path


def agent(config: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def people(config: Path, day: str = DAY) -> dict[str, dict[str, Any]]:
    result = agent(config, "people", "--as-of", day, "--format", "json")
    assert result.exit_code == 0, result.output
    return {p["person"]["emails"][0]: p["stats"] for p in json.loads(result.output)}


def test_sync_reports_each_calendar_and_counts_every_meeting_once(config: Path) -> None:
    result = agent(config, "sync")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "mail: 0 new messages", "file: 16 new meetings", "feed: 0 new meetings",
        "dav: 0 new meetings",
    ]  # fmt: skip
    before = people(config)
    assert agent(config, "sync").output.splitlines() == [
        "mail: 0 new messages", "file: 0 new meetings", "feed: 0 new meetings",
        "dav: 0 new meetings",
    ]  # fmt: skip
    assert people(config) == before
    bob = before["bob@example.com"]
    # Weekly from 6 Jan, 20 Jan excepted, 3 Feb moved to the 4th; the June review is future.
    assert bob["meetings"] == 7 and bob["interactions"] == 7
    assert bob["last_contact"] == bob["last_meeting"] == "2025-02-24"
    assert bob["gap_median_days"] == 7.0
    assert before["carla@example.com"]["meetings"] == 2  # the offsite and the moved 1:1
    assert "dave@example.com" not in before  # declined
    assert "erin@example.com" not in before  # I declined
    assert "grace@example.com" not in before  # a meeting without me
    # By June the whole series (12 weekly, one excepted) and the review are past.
    assert people(config, "2025-06-02")["bob@example.com"]["meetings"] == 12


def test_a_first_meeting_and_nothing_since_asks_for_a_follow_up(config: Path) -> None:
    assert agent(config, "sync", "--source", "file").exit_code == 0
    heidi = people(config, "2025-02-20")["heidi@example.com"]
    assert heidi["first_contact_meeting"] is True and heidi["interactions_after_first"] == 0
    result = agent(config, "person", "heidi@example.com", "--as-of", "2025-02-20")
    assert result.exit_code == 0, result.output
    assert "follow-up: fired" in result.output
    digest = json.loads(agent(config, "digest", "--as-of", "2025-02-20", "--format", "json").output)
    assert any(
        f["rule"] == "follow-up" and f["person"]["emails"] == ["heidi@example.com"]
        for f in digest["findings"]
    )


def test_check_logs_in_to_each_calendar(config: Path) -> None:
    result = agent(config, "check")
    assert result.exit_code == 0, result.output
    assert "file: ok: 9 events, 16 occurrences with you" in result.output
    assert "dav: ok: 1 calendar (" in result.output


def test_an_unreachable_calendar_fails_with_exit_1_and_the_others_still_sync(
    config: Path, feed: Feed
) -> None:
    text = config.read_text().replace(feed.url(), feed.url("/missing.ics"))
    config.write_text(text)
    result = agent(config, "sync")
    assert result.exit_code == 1
    assert f"feed: FAILED: {feed.url('/missing.ics')}: HTTP 404" in result.output
    assert "file: 16 new meetings" in result.output
    assert "dav: 0 new meetings" in result.output


def test_a_wrong_password_for_caldav_fails_with_exit_1(config: Path, monkeypatch) -> None:
    monkeypatch.setenv("DAV_PASSWORD", "wrong")
    result = agent(config, "sync", "--source", "dav")
    assert result.exit_code == 1
    assert "access refused" in result.output and "wrong" not in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('type = "caldav"', 'type = "google"'), "[calendars.dav] type"),
        (('password_env = "DAV_PASSWORD"', 'password_env = "DAV_PASSWORD"\npassword = "x"'),
         "[calendars.dav] password"),
    ],
)  # fmt: skip
def test_a_bad_calendar_entry_is_a_config_error_with_exit_2(
    config: Path, change: tuple[str, str], message: str
) -> None:
    config.write_text(config.read_text().replace(*change))
    result = agent(config, "check", "--offline")
    assert result.exit_code == 2
    assert message in result.output
