"""Judgement on real-shaped mail (issue 10): threads without References, auto-replies, group
mail, archive copies, personal ties and archive coverage. Pure logic; make eval checks the
same on the Enron mailboxes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from agent.config.settings import parse_config
from agent.core.identity import Identity
from agent.core.interactions import ME, UNKNOWN, Coverage, MessageRecord, derive, drop_copies
from agent.core.stats import compute_stats
from connectors.mail.headers import parse_headers
from connectors.mail.subjects import is_reply_subject, subject_reason, thread_index, topic

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANA = "ana@example.org"


def ident() -> Identity:
    return Identity(parse_config({"me": {"emails": [ANA]}, "database": {"url": "sqlite://"}}))


def msg(key: str, sender: str, to: list[str], hours: float = 0, **kw: object) -> MessageRecord:
    return MessageRecord(
        key=key,
        date=T0 + timedelta(hours=hours),
        sender=sender,
        sender_name=None,
        automated=None,
        to=tuple(to),
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "subject",
    ["Re: Budget", "AW: Budget", "R: Budget", "RE[2]: Budget", "SV: Budget", "Antw: Budget",
     "Re: [team] Fwd: budget", "  re :  BUDGET  "],
)  # fmt: skip
def test_reply_prefixes_of_many_languages_are_stripped(subject: str) -> None:
    assert topic(subject) == "budget"
    assert is_reply_subject(subject)


@pytest.mark.parametrize("subject", ["Fwd: Budget", "WG: Budget", "I: Budget", "TR: Budget"])
def test_a_forward_is_not_a_reply(subject: str) -> None:
    assert topic(subject) == "budget"
    assert not is_reply_subject(subject)


@pytest.mark.parametrize(
    "subject",
    ["Out of Office: Budget", "Automatic reply: Budget", "Automatische Antwort: Budget",
     "Abwesenheitsnotiz", "Respuesta automática: Budget", "Fuera de la oficina",
     "Risposta automatica: Budget", "Fuori sede", "Réponse automatique : Budget"],
)  # fmt: skip
def test_auto_reply_subjects_are_machines(subject: str) -> None:
    assert subject_reason(subject) == "auto-reply"


@pytest.mark.parametrize("subject", ["Budget", "Re: office party", "Out of ideas"])
def test_ordinary_subjects_are_people(subject: str) -> None:
    assert subject_reason(subject) is None


def test_ticket_subjects_and_bulk_mailer_headers_are_machines() -> None:
    assert subject_reason("[#123456] Your request was received") == "ticket system"
    raw = b"From: shop@store.example\nTo: ana@example.org\nFeedback-ID: 1:2:3:ses\n\n"
    assert parse_headers(raw).automated == "bulk mailer"
    raw = b"From: a@b.org\nX-Auto-Response-Suppress: All\nSubject: Away\n\n"
    assert parse_headers(raw).automated == "auto-reply"


def test_thread_index_names_the_conversation_and_its_replies() -> None:
    head = "AcPXbJ1kq0aBlwk3R8qmLqHpVbhKSQ=="
    conversation, is_reply = thread_index(head)
    assert conversation is not None and not is_reply
    import base64

    child = base64.b64encode(base64.b64decode(head) + b"\x00\x01\x02\x03\x04").decode()
    assert thread_index(child) == (conversation, True)
    assert thread_index("not base64!") == (None, False)


def test_placeholder_dates_fall_back() -> None:
    fallback = datetime(2001, 5, 1, tzinfo=UTC)
    meta = parse_headers(b"Date: Mon, 31 Dec 1979 16:00:00 -0800\nFrom: a@b.org\n\n", fallback)
    assert meta.date == fallback and meta.date_source == "fallback"


def test_a_reply_whose_parent_is_missing_started_no_thread() -> None:
    mine = msg("a", ANA, ["bob@x.org"], topic="t1", reply=True)
    derived = derive([mine], [], ident())
    assert derived.starters[derived.by_person["bob@x.org"][0].thread or ""] == UNKNOWN


def test_subject_threads_join_replies_among_the_same_people() -> None:
    theirs = msg("a", "bob@x.org", [ANA], topic="t1")
    mine = msg("b", ANA, ["bob@x.org"], hours=2, topic="t1", reply=True)
    stranger = msg("c", ANA, ["carla@x.org"], hours=3, topic="t1", reply=True)
    derived = derive([theirs, mine, stranger], [], ident())
    bob = derived.by_person["bob@x.org"]
    assert bob[0].thread == bob[1].thread
    assert derived.starters[bob[0].thread or ""] == "bob@x.org"
    assert derived.by_person["carla@x.org"][0].thread != bob[0].thread


def test_thread_index_joins_without_subjects() -> None:
    theirs = msg("a", "bob@x.org", [ANA], conversation="c1")
    mine = msg("b", ANA, ["bob@x.org"], hours=30, conversation="c1", reply=True)
    derived = derive([theirs, mine], [], ident())
    assert len({i.thread for i in derived.by_person["bob@x.org"]}) == 1


def test_their_answer_in_my_thread_is_no_debt() -> None:
    mine = msg("a", ANA, ["bob@x.org"], topic="t1")
    theirs = msg("b", "bob@x.org", [ANA], hours=5, topic="t1", reply=True)
    derived = derive([mine, theirs], [], ident())
    assert derived.starters[derived.by_person["bob@x.org"][0].thread or ""] == ME
    assert derived.by_person["bob@x.org"][1].answers_me


def test_archive_copies_hours_apart_count_once_real_replies_stay() -> None:
    first = msg("a", ANA, ["bob@x.org"], topic="t1")
    copy = msg("b", ANA, ["bob@x.org"], hours=2, topic="t1")  # same minute and second
    second = msg("c", ANA, ["bob@x.org"], hours=2.1, topic="t1")  # six minutes later
    assert [m.key for m in drop_copies([first, copy, second])] == ["a", "c"]


def test_group_mail_is_recorded_but_not_personal() -> None:
    team = [f"p{n}@x.org" for n in range(5)]
    group = msg("a", ANA, team, topic="weekly")
    derived = derive([group], [], ident())
    [item] = derived.by_person["p0@x.org"]
    assert item.group
    stats = compute_stats([item], derived.starters, "p0@x.org", T0 + timedelta(days=1), UTC)
    assert stats["group_emails"] == 1 and stats["emails_sent"] == 0
    assert "p0@x.org" not in derived.ties  # a group message is no personal tie


def test_ties_come_from_my_direct_mail_answers_and_introductions() -> None:
    messages = [
        msg("a", ANA, ["bob@x.org"], topic="t1"),
        msg("b", "shop@store.example", [ANA], hours=1, topic="t2"),
        msg("c", "bob@x.org", [ANA, "dora@y.org"], hours=2, topic="t3"),
        msg("d", "dora@y.org", [ANA, "bob@x.org"], hours=3, topic="t3", reply=True),
    ]
    ties = derive(messages, [], ident()).ties
    assert "bob@x.org" in ties and "dora@y.org" in ties  # Bob introduced Dora
    assert "shop@store.example" not in ties


def test_coverage_counts_days_in_each_direction() -> None:
    cover = Coverage(incoming=(date(2026, 1, 5), date(2026, 1, 6)), outgoing=(date(2026, 3, 1),))
    assert cover.has("in", date(2026, 1, 1), date(2026, 1, 14), 2)
    assert not cover.has("in", date(2026, 1, 6), date(2026, 1, 20), 2)
    assert cover.share("out", date(2026, 1, 1), date(2026, 3, 2)) == 0.5


def test_no_verdict_where_the_archive_lacks_the_other_side() -> None:
    # I wrote Bob five threads; the archive holds no mail to me at all after them.
    mine = [msg(str(n), ANA, ["bob@x.org"], hours=24 * 7 * n, topic=f"t{n}") for n in range(5)]
    derived = derive(mine, [], ident())
    as_of = T0 + timedelta(days=60)
    stats = compute_stats(
        derived.by_person["bob@x.org"], derived.starters, "bob@x.org", as_of, UTC,
        coverage=derived.coverage, thread_starts=derived.thread_starts,
    )  # fmt: skip
    assert stats["threads_started_by_me"] == 5
    assert stats["reciprocity_threads"] == 0 and stats["their_reply_rate"] is None
    assert stats["silence_coverage"] == 0.0


def test_a_version_1_database_migrates_and_reads_its_mail_again(tmp_path: object) -> None:
    from sqlalchemy import create_engine, func, select

    from agent.store import schema as s
    from agent.store.database import Store

    url = f"sqlite:///{tmp_path}/old.db"
    engine = create_engine(url)
    with engine.begin() as conn:
        s.schema_version.create(conn)
        s._v1(conn)
        conn.execute(s.schema_version.insert().values(version=1))
        conn.execute(s.locations.insert().values(source="m", folder="INBOX", validity="",
                                                 location="1", key="k"))  # fmt: skip
    engine.dispose()
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(select(s.schema_version.c.version)).scalar() == s.CURRENT_VERSION
            assert conn.execute(select(func.count()).select_from(s.locations)).scalar() == 0
            assert conn.execute(select(s.store_keys.c.value)).scalar()
        meta = parse_headers(b"From: bob@x.org\nTo: ana@example.org\nSubject: Re: Hi\n\n", T0)
        from agent.core.model import Located

        assert store.ingest("m", "INBOX", "", [Located("INBOX", "1", meta)]) == 1
        [row] = list(store.iter_messages())
        assert row.reply is True and row.topic and "hi" not in row.topic
    finally:
        store.close()


def test_an_introduction_by_a_tie_makes_the_strangers_question_owed() -> None:
    messages = [
        msg("a", ANA, ["bob@x.org"], topic="t1"),
        msg("b", "bob@x.org", [ANA, "dora@y.org"], hours=24, topic="t2"),  # "meet Dora"
        msg("c", "dora@y.org", [ANA], hours=48, topic="t3"),  # her own question, no Cc
        msg("d", "eve@z.org", [ANA], hours=50, topic="t4"),  # nobody introduced Eve
    ]
    ties = derive(messages, [], ident()).ties
    assert "dora@y.org" in ties and "eve@z.org" not in ties


def test_addresses_sharing_a_full_name_are_one_person() -> None:
    from agent.core.aliases import find_aliases, full_name

    assert full_name("Meyer, Bob") == full_name("bob meyer") is not None
    assert full_name("Bob") is None and full_name("Support Team") is None
    named = [("bob@work.example", "Bob Meyer", 30), ("bob@home.example", "Meyer, Bob", 4),
             ("help@shop.example", "Support Team", 9), ("help@other.example", "Support Team", 2),
             ("imceaex-_o=corp_cn=bmeyer@corp.example", "Bob Meyer", 1)]  # fmt: skip
    aliases = find_aliases(named, frozenset(), {})
    assert {a.email: a.canonical for a in aliases.values()} == {
        "bob@home.example": "bob@work.example",
        "imceaex-_o=corp_cn=bmeyer@corp.example": "bob@work.example",
    }
    apart = {"bob@home.example": "bob@home.example", "bob@work.example": "bob@work.example"}
    assert find_aliases(named, frozenset(), apart) == {}  # two [[people]] entries stay two


@pytest.mark.parametrize(
    ("days", "words"),
    [(1.0, "almost daily"), (7.0, "about weekly"), (21.0, "every 2-3 weeks"),
     (29.0, "about monthly"), (100.0, "about every three months"), (400.0, "about once a year"),
     (None, None)],
)  # fmt: skip
def test_rhythm_in_words(days: float | None, words: str | None) -> None:
    from agent.core.rhythm import rhythm_words

    assert rhythm_words(days) == words


def test_rhythm_is_between_conversations_not_contact_days() -> None:
    # Carla writes monthly and I answer the next day: monthly, not "every 1 days".
    from agent.core.interactions import Interaction

    items = []
    for k in range(12):
        when = T0 + timedelta(days=30 * k)
        items.append(Interaction("carla@x.org", when, "in", f"i{k}", f"t{k}"))
        items.append(Interaction("carla@x.org", when + timedelta(days=1), "out", f"o{k}", f"t{k}"))
    stats = compute_stats(items, {}, "carla@x.org", T0 + timedelta(days=500), UTC)
    assert stats["gap_median_days"] == 1.0  # between contact days: 1, 29, 1, 29, ...
    assert stats["rhythm_days"] == 30.0 and stats["rhythm"] == "about monthly"


@pytest.mark.parametrize(
    ("language", "text"),
    [("de", "früher wart ihr etwa monatlich in Kontakt"),
     ("es", "antes hablabais más o menos cada mes"),
     ("it", "prima vi sentivate circa ogni mese")],
)  # fmt: skip
def test_the_rhythm_is_said_in_the_digest_language(language: str, text: str) -> None:
    from agent.core.person import Person, PersonReport
    from agent.i18n import translator
    from rules.engine import evaluate
    from rules.loader import load_builtin
    from tests.test_builtin_rules import FADING, healthy

    stats = healthy(**FADING, rhythm_days=30.0, rhythm="about monthly")
    report = PersonReport(Person(1, "Carla Diaz", ("carla@x.org",)), stats)
    [finding] = evaluate(load_builtin(), [report], translate=translator(language))
    assert text in finding.message


def test_the_digest_says_what_the_archive_covers_and_what_it_lacks() -> None:
    from agent.digest.build import build_digest
    from agent.digest.render import common
    from agent.i18n import translator

    incoming = (date(2026, 1, 1), date(2026, 1, 2), date(2026, 5, 1))
    outgoing = (date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 3, 25))
    cover = Coverage(incoming, outgoing)
    assert cover.gaps("in") == [(date(2026, 1, 3), date(2026, 4, 30))]
    assert cover.gaps("out") == [(date(2026, 3, 26), date(2026, 5, 1))]  # monthly is no gap
    summary = build_digest([], [], date(2026, 5, 2), cover).summary
    assert summary.to_json()["archive"] == {
        "from": "2026-01-01",
        "to": "2026-05-01",
        "gaps": [
            {"direction": "in", "from": "2026-01-03", "to": "2026-04-30", "days": 118},
            {"direction": "out", "from": "2026-03-26", "to": "2026-05-01", "days": 37},
        ],
    }
    rows = dict(common.summary_rows(summary, translator("de")))
    assert rows["Keine Mail an dich"] == "2026-01-03 – 2026-04-30 (118 Tage): nicht bewertet"


@pytest.mark.parametrize(
    ("email", "machine"),
    [("msg-8f3a9c2e1b7d4e60@shop.example", True), ("bounce+ana=example.org@esp.example", True),
     ("order-20261120123456@shop.example", True), ("john.smith1975@mail.example", False),
     ("deadbeef@cafe.example", False), ("ana.example@mail.example", False)],
)  # fmt: skip
def test_rotating_and_verp_senders_are_machines(email: str, machine: bool) -> None:
    from agent.core.identity import is_noreply

    assert is_noreply(email) is machine


def test_person_says_why_an_address_is_not_a_person(tmp_path: object) -> None:
    conf = parse_config({"me": {"emails": [ANA]}, "database": {"url": "sqlite://"},
                         "ignore": {"domains": ["corp.example"]}})  # fmt: skip
    identity = Identity(conf, lists=["dev@lists.example"])
    assert identity.exclusion(ANA) == "it is one of your addresses ([me] emails)"
    assert "mailing list" in (identity.exclusion("dev@lists.example") or "")
    assert "[ignore] domains" in (identity.exclusion("x@mail.corp.example") or "")
    assert identity.exclusion("bob@x.org") is None


def test_finding_people_exact_first_accents_and_case_folded() -> None:
    from agent.cli.views import find_person
    from agent.core.person import Person, PersonReport
    from agent.errors import UserError

    people = [PersonReport(Person(n, f"Person {n}", (f"p{n}@x.org",)), {}) for n in range(1, 120)]
    people.append(PersonReport(Person(500, "Jürgen Müller", ("jm@x.de",)), {}))
    assert find_person(people, "Person 1").person.id == 1  # exact, though 31 names contain it
    assert find_person(people, "jurgen").person.id == 500
    assert find_person(people, "JÜRGEN MÜLLER").person.id == 500
    assert find_person(people, "P7@X.ORG").person.id == 7
    with pytest.raises(UserError, match=r"11 people match 'erson 11'.*Person 110.*1 more"):
        find_person(people, "erson 11")


def test_an_empty_archive_is_not_a_healthy_network(tmp_path: object) -> None:
    from click.testing import CliRunner

    from agent.cli.main import main

    config = f"{tmp_path}/config.toml"
    with open(config, "w") as fh:
        fh.write(f'[me]\nemails = ["{ANA}"]\ntimezone = "UTC"\n\n'
                 f'[database]\nurl = "sqlite:///{tmp_path}/agent.db"\n')  # fmt: skip
    result = CliRunner().invoke(main, ["--config", config, "digest"])
    assert result.exit_code == 0
    assert "Nothing has been synced yet" in result.output
    assert "well tended" not in result.output
    people = CliRunner().invoke(main, ["--config", config, "people"])
    assert "run `agent sync` first" in people.output
