"""connectors.calendar.ical: calendar text -> meetings with me, one per occurrence (pure)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.config.settings import MeConfig
from agent.core.model import Attendee
from connectors.calendar.ical import HORIZON, CalendarError, parse_calendar

DATA = Path(__file__).parent / "data" / "calendars"
ME = MeConfig("Ana Example", ("ana@example.org", "ana.private@example.net"), "Europe/Berlin")
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def parse(name: str, now: datetime = NOW, me: MeConfig = ME):
    return parse_calendar((DATA / name).read_bytes(), me, now, name)


def by_key(name: str) -> dict:
    return {m.key: m for m in parse(name).meetings}


def event(body: str, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n" + extra
        + "BEGIN:VEVENT\r\n" + body.strip().replace("\n", "\r\n") + "\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )  # fmt: skip


def test_recurring_event_is_one_meeting_per_occurrence_minus_exdate():
    keys = sorted(k for k in by_key("team.ics") if k.startswith("weekly-1on1@"))
    assert len(keys) == 11  # COUNT=12, one EXDATE
    assert "weekly-1on1@example.org/20250120T090000Z" not in keys
    assert keys[0] == "weekly-1on1@example.org/20250106T090000Z"


def test_override_keeps_original_key_with_its_own_time_and_attendees():
    moved = by_key("team.ics")["weekly-1on1@example.org/20250203T090000Z"]
    assert moved.start == datetime(2025, 2, 4, 14, tzinfo=UTC)
    assert {a.email for a in moved.attendees} == {
        "bob@example.com", "carla@example.com", "ana@example.org",
    }  # fmt: skip
    usual = by_key("team.ics")["weekly-1on1@example.org/20250210T090000Z"]
    assert "carla@example.com" not in {a.email for a in usual.attendees}


def test_attendees_carry_name_and_partstat_and_organizer_is_included():
    offsite = by_key("team.ics")["offsite@example.org/2025-02-12"]
    assert offsite.organizer == "carla@example.com"
    assert offsite.status == "TENTATIVE"
    assert set(offsite.attendees) == {
        Attendee("ana@example.org", "Ana", "TENTATIVE"),  # MAILTO:Ana@Example.ORG
        Attendee("dave@example.com", "Dave", "DECLINED"),
        Attendee("carla@example.com", "Carla Diaz", "ACCEPTED"),  # organizer, not listed
    }


def test_all_day_event_starts_at_midnight_in_my_time_zone():
    offsite = by_key("team.ics")["offsite@example.org/2025-02-12"]
    assert offsite.start == datetime(2025, 2, 11, 23, tzinfo=UTC)


def test_declined_by_me_is_kept_with_my_partstat_for_stats_to_skip():
    declined = by_key("team.ics")["declined@example.org/20250115T080000Z"]
    assert Attendee("ana.private@example.net", "", "DECLINED") in declined.attendees


def test_cancelled_and_foreign_events_are_not_meetings():
    keys = by_key("team.ics")
    assert not [k for k in keys if k.startswith(("cancelled@", "not-mine@"))]


def test_missing_partstat_means_needs_action():
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
        "UID:met-once@example.org\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250210T090000Z\r\n"
        "DTEND:20250210T093000Z\r\nORGANIZER;CN=Heidi:mailto:heidi@example.com\r\n"
        "ATTENDEE:mailto:ana@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [met] = parse_calendar(text, ME, NOW, "inline").meetings
    assert Attendee("ana@example.org", "", "NEEDS-ACTION") in met.attendees
    assert met.organizer == "heidi@example.com"


def test_future_occurrences_are_stored_up_to_the_horizon():
    keys = by_key("team.ics")
    assert "future@example.org/20250601T090000Z" in keys
    assert not [k for k in keys if k.startswith("far-future@")]
    later = parse("team.ics", now=datetime(2029, 6, 1, tzinfo=UTC)).meetings
    assert "far-future@example.org/20300601T090000Z" in {m.key for m in later}
    assert datetime(2025, 6, 1, tzinfo=UTC) < NOW + HORIZON


def test_windows_time_zone_names_map_to_iana():
    outlook = by_key("team.ics")["outlook-windows@example.org/20250115T130000Z"]
    assert outlook.start == datetime(2025, 1, 15, 13, tzinfo=UTC)
    pst = by_key("timezones.ics")["windows-no-vtimezone@example.org/20250110T180000Z"]
    assert pst.start == datetime(2025, 1, 10, 18, tzinfo=UTC)


def test_undefined_tzid_falls_back_to_my_zone_with_a_warning_naming_file_and_uid():
    result = parse("timezones.ics")
    starts = {m.key.split("/")[0]: m.start for m in result.meetings}
    assert starts["undefined-tz@example.org"] == datetime(2025, 1, 10, 9, tzinfo=UTC)
    assert starts["iana-no-vtimezone@example.org"] == datetime(2025, 1, 10, 15, tzinfo=UTC)
    assert starts["floating@example.org"] == datetime(2025, 1, 10, 9, tzinfo=UTC)
    assert len(result.warnings) == 1
    assert "timezones.ics" in result.warnings[0]
    assert "undefined-tz@example.org" in result.warnings[0]
    assert "Mars/Olympus_Mons" in result.warnings[0]


def test_x_wr_timezone_is_applied_before_expansion():
    starts = sorted(m.start for m in parse("google.ics").meetings)
    # 10:00 Berlin every week: 09:00 UTC before the DST change, 08:00 UTC after it.
    assert starts[-1] == datetime(2025, 4, 3, 8, tzinfo=UTC)
    assert starts[0] == datetime(2025, 3, 20, 9, tzinfo=UTC)


def test_bad_events_are_skipped_with_warnings_and_good_ones_kept():
    result = parse("broken.ics")
    assert sorted(m.key.split("/")[0] for m in result.meetings) == [
        "good-after@example.org", "good-before@example.org",
    ]  # fmt: skip
    for uid in ("bad-dtstart", "no-dtstart", "bad-rrule", "two-dtstarts"):
        assert any(f"{uid}@example.org" in w and "broken.ics" in w for w in result.warnings), uid


def test_meetings_are_aware_utc_and_keys_unique():
    meetings = parse("team.ics").meetings
    assert all(m.start.tzinfo is UTC for m in meetings)
    assert len({m.key for m in meetings}) == len(meetings)


def test_parsing_is_deterministic():
    assert parse("team.ics").meetings == parse("team.ics").meetings


def test_edited_series_keeps_keys_of_unchanged_occurrences():
    before = event("""
UID:s1
DTSTART:20250106T090000Z
RRULE:FREQ=WEEKLY;COUNT=4
ORGANIZER:mailto:ana@example.org
ATTENDEE:mailto:bob@example.com
SUMMARY:Before
""")
    after = before.replace("SUMMARY:Before", "SUMMARY:After\r\nATTENDEE:mailto:carl@example.com")
    keys = [{m.key for m in parse_calendar(t, ME, NOW).meetings} for t in (before, after)]
    assert keys[0] == keys[1] and len(keys[0]) == 4


def test_me_matching_is_case_insensitive_and_strips_mailto():
    text = event("""
UID:x
DTSTART:20250106T090000Z
ORGANIZER:MAILTO:BOB@EXAMPLE.COM
ATTENDEE;PARTSTAT=accepted:Mailto:ANA.PRIVATE@example.NET
""")
    (meeting,) = parse_calendar(text, ME, NOW).meetings
    assert Attendee("ana.private@example.net", "", "ACCEPTED") in meeting.attendees


def test_lone_vevent_without_vcalendar_is_read():
    text = "BEGIN:VEVENT\r\nUID:lone\r\nDTSTART:20250106T090000Z\r\n"
    text += "ORGANIZER:mailto:ana@example.org\r\nATTENDEE:mailto:bob@example.com\r\nEND:VEVENT\r\n"
    assert [m.key for m in parse_calendar(text, ME, NOW).meetings] == ["lone/20250106T090000Z"]


def test_event_without_uid_gets_a_stable_key():
    text = event(
        "DTSTART:20250106T090000Z\nORGANIZER:mailto:ana@example.org\nATTENDEE:mailto:b@x.org"
    )
    first, second = (parse_calendar(text, ME, NOW).meetings for _ in range(2))
    assert first[0].key == second[0].key and first[0].key.startswith("nouid-")


def test_method_cancel_cancels_its_events():
    text = event(
        "UID:c\nDTSTART:20250106T090000Z\nORGANIZER:mailto:b@x.org\nATTENDEE:mailto:ana@example.org",
        extra="METHOD:CANCEL\r\n",
    )
    assert parse_calendar(text, ME, NOW).meetings == []


@pytest.mark.parametrize(
    "text", ["", "<!doctype html><html><body>Sign in</body></html>", "BEGIN:VCALENDAR\r\nX"]
)
def test_text_that_is_not_icalendar_raises_calendar_error(text):
    with pytest.raises(CalendarError):
        parse_calendar(text, ME, NOW, "feed")


def test_calendar_error_names_the_origin():
    with pytest.raises(CalendarError, match=r"https://example\.org/cal\.ics"):
        parse_calendar("<html>", ME, NOW, "https://example.org/cal.ics")


def test_rooms_resources_lists_and_google_calendars_are_not_people():
    text = event("""
UID:rooms
DTSTART:20250106T090000Z
ORGANIZER;CN=Team calendar:mailto:j68lhv614hbv3u4ttbrs6glhpg@group.calendar.google.com
ATTENDEE;CUTYPE=ROOM;CN=Room 1:mailto:room1@example.org
ATTENDEE;CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT:mailto:beamer@example.org
ATTENDEE;CUTYPE=GROUP:mailto:team@example.org
ATTENDEE;ROLE=NON-PARTICIPANT:mailto:fyi@example.org
ATTENDEE:mailto:c_18@resource.calendar.google.com
ATTENDEE;CUTYPE=INDIVIDUAL:mailto:bob@example.com
ATTENDEE:mailto:ana@example.org
""")
    (meeting,) = parse_calendar(text, ME, NOW).meetings
    assert meeting.organizer is None
    assert {a.email for a in meeting.attendees} == {"bob@example.com", "ana@example.org"}


def test_a_meeting_with_me_and_only_a_room_has_nobody_else():
    text = event("""
UID:alone
DTSTART:20250106T090000Z
ORGANIZER:mailto:ana@example.org
ATTENDEE;CUTYPE=ROOM:mailto:room1@example.org
""")
    (meeting,) = parse_calendar(text, ME, NOW).meetings
    assert [a.email for a in meeting.attendees] == ["ana@example.org"]


def test_addresses_in_the_email_parameter_are_used():
    # SabreDAV / Nextcloud: the value is a principal or urn:uuid, the address is in EMAIL=.
    text = event("""
UID:sabre
DTSTART:20250106T090000Z
ORGANIZER;EMAIL=Ana@Example.org:urn:uuid:0b5d
ATTENDEE;CN=Bob;EMAIL="bob@example.com";PARTSTAT=ACCEPTED:/remote.php/dav/principals/users/bob/
""")
    (meeting,) = parse_calendar(text, ME, NOW).meetings
    assert meeting.organizer == "ana@example.org"
    assert Attendee("bob@example.com", "Bob", "ACCEPTED") in meeting.attendees


def test_this_and_future_override_keeps_one_key_per_occurrence():
    series = """
UID:tf
DTSTART;TZID=Europe/Berlin:20250106T100000
RRULE:FREQ=WEEKLY;COUNT=4
ORGANIZER:mailto:bob@example.com
ATTENDEE:mailto:ana@example.org
END:VEVENT
BEGIN:VEVENT
UID:tf
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20250113T100000
DTSTART;TZID=Europe/Berlin:20250113T113000
ORGANIZER:mailto:bob@example.com
ATTENDEE:mailto:ana@example.org
ATTENDEE:mailto:carl@example.org
"""
    meetings = parse_calendar(event(series), ME, NOW).meetings
    assert [m.key for m in meetings] == [
        f"tf/202501{day}T090000Z" for day in ("06", "13", "20", "27")
    ]
    assert [m.start.hour for m in meetings] == [9, 10, 10, 10]
    assert "carl@example.org" in {a.email for a in meetings[-1].attendees}


def test_per_occurrence_cancel_and_decline_and_an_override_without_its_master():
    series = """
UID:s
DTSTART:20250106T090000Z
RRULE:FREQ=WEEKLY;COUNT=3
ORGANIZER:mailto:bob@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org
END:VEVENT
BEGIN:VEVENT
UID:s
RECURRENCE-ID:20250113T090000Z
DTSTART:20250113T090000Z
STATUS:CANCELLED
ORGANIZER:mailto:bob@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org
END:VEVENT
BEGIN:VEVENT
UID:s
RECURRENCE-ID:20250120T090000Z
DTSTART:20250120T090000Z
ORGANIZER:mailto:bob@example.com
ATTENDEE;PARTSTAT=DECLINED:mailto:ana@example.org
END:VEVENT
BEGIN:VEVENT
UID:invited-to-one
RECURRENCE-ID:20250113T090000Z
DTSTART:20250114T090000Z
ORGANIZER:mailto:carl@example.org
ATTENDEE:mailto:ana@example.org
"""
    meetings = {m.key: m for m in parse_calendar(event(series), ME, NOW).meetings}
    assert sorted(meetings) == [
        "invited-to-one/20250113T090000Z", "s/20250106T090000Z", "s/20250120T090000Z",
    ]  # fmt: skip
    declined = meetings["s/20250120T090000Z"]
    assert Attendee("ana@example.org", "", "DECLINED") in declined.attendees
    assert meetings["invited-to-one/20250113T090000Z"].start == datetime(2025, 1, 14, 9, tzinfo=UTC)


def test_library_warnings_become_our_warnings_naming_the_calendar():
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:gu@example.org\r\n"
        "DTSTAMP:20250101T000000Z\r\n"
        "DTSTART;TZID=/mozilla.org/20070129_1/Europe/Berlin:20250210T100000\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape to stderr as a raw warning
        parsed = parse_calendar(ics, ME, NOW, "moz.ics")
    assert [m.start.hour for m in parsed.meetings] == [9]  # 10:00 Berlin, the guess was right
    assert any(w.startswith("moz.ics: ") and "globally unique TZID" in w for w in parsed.warnings)
