"""Every .ics in ../shared/corpora/ics syncs without a crash; bad events warn, good ones stay."""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.config.settings import CalendarConfig, MeConfig
from agent.errors import UserError
from agent.store.database import Store
from connectors.calendar.ical import CalendarError, parse_calendar
from connectors.calendar.ics import IcsConnector
from tests.servers.common import CORPORA, corpora

pytestmark = pytest.mark.corpora

# Organizers and attendees that occur in the corpora, so that some events are "with me".
ME = MeConfig(
    "Corpus reader",
    ("redacted@example.com", "xxx@yyy.zzz", "person@domain.com", "bernard@example.com",
     "niccokunzmann@googlemail.com", "jsmith@example.com", "john_doe@example.com"),
    "Europe/Berlin",
)  # fmt: skip
NOW = datetime(2025, 3, 1, tzinfo=UTC)
FILES = sorted(CORPORA.glob("ics/**/*.ics")) if CORPORA.is_dir() else []
# Files the parser refuses as a whole (not calendars, or broken below the event level). They
# must fail as a clean UserError naming the file, never with a traceback.
NOT_CALENDARS = {
    "fuzz_testcase_0_char_in_component_name.ics",
    "fuzz_testcase_invalid_month.ics",
    "fuzz_testcase_vtimezone_lone_cr.ics",
    "issue_104_broken_calendar.ics",
    "issue_178_component_with_invalid_name_represented.ics",
    "issue_178_custom_component_contains_other.ics",
    "parsing_error_in_UTC_offset.ics",
}


def test_corpora_are_present():
    assert len(list(corpora().glob("ics/**/*.ics"))) > 250


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    s = Store.open(f"sqlite:///{tmp_path_factory.mktemp('corpora') / 'agent.db'}")
    yield s
    s.close()


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPORA / "ics")))
def test_file_syncs_without_a_crash(path: Path, store: Store):
    name = str(path.relative_to(CORPORA))  # one source per file: full replaces stay apart
    ics = IcsConnector(CalendarConfig(name, "ics", str(path)), ME, clock=lambda: NOW)
    if path.name in NOT_CALENDARS:
        with pytest.raises(UserError, match=path.name):
            ics.sync(store)
        return
    ics.sync(store)
    assert ics.sync(store) == 0


def invite_me(text: str) -> str:
    """The file with me as attendee of every event, so that even its broken events get expanded."""
    return re.sub(r"(?im)^BEGIN:VEVENT\r?$", "BEGIN:VEVENT\nATTENDEE:mailto:me@example.org", text)


INVITED = dataclasses.replace(ME, emails=("me@example.org",))


def test_every_event_with_me_parses_or_warns_naming_file_and_uid():
    corpora()
    meetings, warnings = 0, []
    for path in FILES:
        text = invite_me(path.read_bytes().decode("utf-8", "replace"))
        try:
            result = parse_calendar(text, INVITED, NOW, str(path))
        except CalendarError:
            assert path.name in NOT_CALENDARS
            continue
        meetings += len(result.meetings)
        warnings += result.warnings
    assert meetings > 500
    assert len(warnings) > 20
    assert all(w.startswith(str(CORPORA)) for w in warnings)
    skipped = [w for w in warnings if "skipped" in w]
    assert all(re.search(r"event '[^']+' skipped", w) for w in skipped)


def test_broken_event_in_a_corpus_file_is_skipped_and_logged(tmp_path, caplog):
    source = corpora() / "ics/icalendar/src/icalendar/tests/calendars/broken_dtstart.ics"
    path = tmp_path / source.name
    good = (
        "BEGIN:VEVENT\nUID:good\nDTSTART:20250110T100000Z\nORGANIZER:mailto:b@x.org\nEND:VEVENT\n"
    )
    path.write_text(invite_me(source.read_text().replace("END:VCALENDAR", good + "END:VCALENDAR")))
    caplog.set_level(logging.WARNING)
    store = Store.open(f"sqlite:///{tmp_path / 'agent.db'}")
    try:
        ics = IcsConnector(CalendarConfig("c", "ics", str(path)), INVITED, clock=lambda: NOW)
        assert ics.sync(store) == 1  # the good event is kept
    finally:
        store.close()
    assert any("broken_dtstart.ics" in r.getMessage() and "'test-123'" in r.getMessage()
               for r in caplog.records)  # fmt: skip
