"""Interactions from message and meeting records: direction, threads, automated and mass mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.config.settings import parse_config
from agent.core.identity import Identity
from agent.core.interactions import ME, MeetingRecord, MessageRecord, derive

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def identity(**extra: object) -> Identity:
    data: dict[str, object] = {
        "me": {"name": "Ana", "emails": ["ana@example.org", "ana@private.example"]},
        "database": {"url": "sqlite://"},
    }
    data.update(extra)
    return Identity(parse_config(data))


def msg(key: str, sender: str, to: list[str], day: int = 0, **kw: object) -> MessageRecord:
    return MessageRecord(
        key=key,
        date=T0 + timedelta(days=day),
        sender=sender,
        sender_name=kw.pop("name", None),  # type: ignore[arg-type]
        automated=kw.pop("automated", None),  # type: ignore[arg-type]
        to=tuple(to),
        **kw,  # type: ignore[arg-type]
    )


def test_outgoing_message_is_one_interaction_per_counterpart() -> None:
    m = msg("a", "ana@example.org", ["bob@x.org", "carla@x.org"], cc=("ana@private.example",))
    derived = derive([m], [], identity())
    assert set(derived.by_person) == {"bob@x.org", "carla@x.org"}
    assert [i.kind for i in derived.by_person["bob@x.org"]] == ["out"]


def test_incoming_counts_only_when_i_am_a_recipient() -> None:
    to_me = msg("a", "bob@x.org", ["ana@private.example"], name="Bob Meyer")
    not_me = msg("b", "bob@x.org", ["carla@x.org"])
    derived = derive([to_me, not_me], [], identity())
    assert [i.key for i in derived.by_person["bob@x.org"]] == ["a"]
    assert derived.names["bob@x.org"] == "Bob Meyer"


def test_delivered_to_counts_as_recipient_for_bcc_to_me() -> None:
    m = msg("a", "bob@x.org", ["someone@x.org"], delivered=("ana@example.org",))
    assert "bob@x.org" in derive([m], [], identity()).by_person


def test_my_posts_to_a_mailing_list_address_are_not_a_relationship() -> None:
    config = parse_config({"me": {"emails": ["ana@example.org"]}, "database": {"url": "sqlite://"}})
    ident = Identity(config, lists=["dev@lists.example.org"])
    posts = [msg(str(k), "ana@example.org", ["dev@lists.example.org", "bob@x.org"], day=k)
             for k in range(3)]  # fmt: skip
    assert set(derive(posts, [], ident).by_person) == {"bob@x.org"}


def test_undisclosed_recipients_is_a_bcc_to_me() -> None:
    # "To: undisclosed-recipients:;" parses to no recipients at all: it reached me by Bcc.
    m = msg("a", "bob@x.org", [])
    derived = derive([m], [], identity())
    assert [(i.kind, i.direct) for i in derived.by_person["bob@x.org"]] == [("in", False)]


def test_automated_and_ignored_yield_nothing() -> None:
    ident = identity(ignore={"addresses": ["*@github.com"], "domains": ["spam.example"]})
    messages = [
        msg("a", "bob@x.org", ["ana@example.org"], automated="mailing list"),
        msg("b", "noreply@shop.example", ["ana@example.org"]),
        msg("c", "dev@github.com", ["ana@example.org"]),
        msg("d", "x@mail.spam.example", ["ana@example.org"]),
        msg("e", "ana@example.org", ["dev@github.com"]),
    ]
    assert derive(messages, [], ident).by_person == {}


def test_configured_people_merge_addresses_and_win_over_noreply_filter() -> None:
    ident = identity(
        people=[{"name": "Bob", "emails": ["bob@x.org", "bob@work.example", "noreply@bob.example"]}]
    )
    messages = [
        msg("a", "bob@work.example", ["ana@example.org"]),
        msg("b", "ana@example.org", ["bob@x.org"], day=1),
        msg("c", "noreply@bob.example", ["ana@example.org"], day=2),
    ]
    derived = derive(messages, [], ident)
    assert list(derived.by_person) == ["bob@x.org"]
    assert len(derived.by_person["bob@x.org"]) == 3


def test_mass_mail_is_marked() -> None:
    crowd = [f"p{n}@x.org" for n in range(21)]
    derived = derive([msg("a", "ana@example.org", crowd)], [], identity())
    assert all(i.mass for items in derived.by_person.values() for i in items)
    twenty = derive([msg("b", "ana@example.org", crowd[:20])], [], identity())
    assert not any(i.mass for items in twenty.by_person.values() for i in items)


def test_thread_starter_is_earliest_message_even_when_synced_out_of_order() -> None:
    first = msg("m1", "bob@x.org", ["ana@example.org"], day=0)
    reply = msg("m2", "ana@example.org", ["bob@x.org"], day=1, refs=("m1",), in_reply_to="m1")
    again = msg("m3", "bob@x.org", ["ana@example.org"], day=2, refs=("m1", "m2"), in_reply_to="m2")
    derived = derive([first, reply, again], [], identity())
    threads = {i.thread for i in derived.by_person["bob@x.org"]}
    assert len(threads) == 1
    (thread,) = threads
    assert thread is not None and derived.starters[thread] == "bob@x.org"
    assert derived.by_person["bob@x.org"][2].answers_me


def test_thread_joined_through_a_missing_parent() -> None:
    # Two replies reference a root we never saw: still one thread.
    a = msg("a", "ana@example.org", ["bob@x.org"], refs=("root",))
    b = msg("b", "bob@x.org", ["ana@example.org"], day=1, refs=("root", "a"))
    derived = derive([a, b], [], identity())
    assert len({i.thread for i in derived.by_person["bob@x.org"]}) == 1
    assert ME in derived.starters.values()


def test_direct_means_me_in_to_with_few_recipients() -> None:
    direct = msg("a", "bob@x.org", ["ana@example.org"])
    cc_only = msg("b", "bob@x.org", ["carla@x.org"], cc=("ana@example.org",))
    crowd = msg("c", "bob@x.org", ["ana@example.org", "a@x.org", "b@x.org", "c@x.org"])
    items = derive([direct, cc_only, crowd], [], identity()).by_person["bob@x.org"]
    assert [i.direct for i in items] == [True, False, False]


def meeting(status: str = "CONFIRMED", **partstats: str) -> MeetingRecord:
    attendees = tuple((email, "", ps) for email, ps in partstats.items())
    return MeetingRecord("uid/1", T0, "ana@example.org", status, attendees)


def test_meeting_counts_attendees_who_did_not_decline() -> None:
    m = MeetingRecord(
        "uid/1", T0, "bob@x.org", "CONFIRMED",
        (("ana@example.org", "", "ACCEPTED"), ("bob@x.org", "Bob", "ACCEPTED"),
         ("carla@x.org", "", "DECLINED"), ("dan@x.org", "", "NEEDS-ACTION")),
    )  # fmt: skip
    derived = derive([], [m], identity())
    assert set(derived.by_person) == {"bob@x.org", "dan@x.org"}
    assert derived.by_person["bob@x.org"][0].kind == "meeting"


def test_meeting_declined_by_me_cancelled_or_without_me_counts_nothing() -> None:
    declined = MeetingRecord(
        "k1", T0, "bob@x.org", "CONFIRMED",
        (("ana@example.org", "", "DECLINED"), ("bob@x.org", "", "ACCEPTED")),
    )  # fmt: skip
    cancelled = MeetingRecord(
        "k2", T0, "bob@x.org", "CANCELLED",
        (("ana@example.org", "", "ACCEPTED"), ("bob@x.org", "", "ACCEPTED")),
    )  # fmt: skip
    without_me = MeetingRecord("k3", T0, "bob@x.org", "CONFIRMED", (("bob@x.org", "", "ACCEPTED"),))
    assert derive([], [declined, cancelled, without_me], identity()).by_person == {}
