"""Address books: vCard folders and CardDAV on a real Radicale, identity and the dates that matter.

The cards in tests/data/contacts are written for these tests (vCard 2.1 quoted-printable, 3.0
grouped EMAIL, 4.0 year-less BDAY, Apple's X-APPLE-OMIT-YEAR, a card of my own, a broken
card); ../shared/corpora/vcf holds real exports nobody here wrote.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent.cli.main import main
from agent.config.settings import AddressBookConfig, MeConfig
from agent.core.identity import Profile
from agent.core.model import PartialDate
from agent.core.occasions import occasion_stats
from agent.store.database import Store
from connectors import connector_for
from tests.servers.common import corpora
from tests.servers.radicale import Radicale

DATA = Path(__file__).parent / "data" / "contacts"
AS_OF = date(2026, 11, 20)
ME = MeConfig("Ana Example", ("ana@example.org",), "Europe/Berlin")


def mail(root: Path, n: int, sender: str, days_ago: int, to: str = "ana@example.org") -> None:
    when = datetime(2026, 11, 20, 12, tzinfo=UTC) - timedelta(days=days_ago)
    raw = (
        f"Message-ID: <ab-{n}@example.com>\r\nFrom: {sender}\r\nTo: {to}\r\n"
        f"Date: {when:%a, %d %b %Y %H:%M:%S +0000}\r\nSubject: Hello {n}\r\n\r\nHi\r\n"
    )
    folder = root / (".Sent" if sender.endswith("<ana@example.org>") else "") / "cur"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{n}.ab:2,S").write_text(raw)


@pytest.fixture
def mailbox(tmp_path: Path) -> Path:
    root = tmp_path / "Mail"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    mail(root, 1, "Bob <bob@example.com>", 40)
    mail(root, 2, "Bob Meyer <Bob.Meyer@work.example>", 10)
    mail(root, 3, "Ana <ana@example.org>", 9, to="bob@example.com")
    mail(root, 4, "Carla <carla@example.com>", 5)
    return root


def config(tmp_path: Path, mailbox: Path, book: str) -> Path:
    path = tmp_path / f"{abs(hash(book))}.toml"
    path.write_text(
        '[me]\nname = "Ana Example"\nemails = ["ana@example.org"]\ntimezone = "Europe/Berlin"\n'
        f'\n[database]\nurl = "sqlite:///{path.with_suffix(".db")}"\n'
        f'\n[[accounts]]\nname = "mail"\ntype = "maildir"\npath = "{mailbox}"\n\n{book}'
    )
    return path


def agent(path: Path, *args: str) -> Any:
    result = CliRunner().invoke(main, ["--config", str(path), *args])
    assert result.exit_code == 0, result.output
    return result


def people(path: Path, *extra: str) -> dict[str, dict[str, Any]]:
    out = agent(path, "people", "--as-of", AS_OF.isoformat(), "--format", "json", *extra).output
    return {p["person"]["name"]: p for p in json.loads(out)}


def vdir_book(tmp_path: Path) -> str:
    folder = tmp_path / "contacts"
    shutil.copytree(DATA, folder)
    return f'[[address_books]]\nname = "contacts"\ntype = "vcard"\npath = "{folder}"\n'


def test_a_card_is_one_person_with_its_name_tags_and_dates(tmp_path: Path, mailbox: Path) -> None:
    path = config(tmp_path, mailbox, vdir_book(tmp_path))
    first = agent(path, "sync").output
    assert "contacts: 5 new cards" in first, first
    assert "contacts: 0 new" in agent(path, "sync").output  # nothing changed, nothing read
    found = people(path)
    bob = found["Bob Meyer"]
    assert set(bob["person"]["emails"]) == {"bob@example.com", "bob.meyer@work.example"}
    assert bob["person"]["tags"] == ["close", "work"]
    assert bob["stats"]["emails_received"] == 2 and bob["stats"]["emails_sent"] == 1
    assert bob["stats"]["next_birthday"] == "2026-11-24" and bob["stats"]["birthday_age"] == 46
    assert found["Carla Díaz"]["stats"]["anniversary_years"] == 10
    assert "Ana Example" not in found  # my own card is me
    assert "Erin Apple" not in found and "Dave Leap" not in found  # never mailed: --all
    everyone = people(path, "--all")
    assert everyone["Erin Apple"]["stats"]["next_birthday_days"] == 3
    assert everyone["Erin Apple"]["stats"]["birthday_age"] is None  # Apple: no year
    wide = CliRunner(env={"COLUMNS": "160"})
    table = wide.invoke(
        main, ["--config", str(path), "people", "--as-of", AS_OF.isoformat()]
    ).output
    assert "occasion" in table.splitlines()[0] and "2026-11-24" in table  # Bob's birthday


def test_birthdays_and_anniversaries_are_findings_with_the_age(
    tmp_path: Path, mailbox: Path
) -> None:
    path = config(tmp_path, mailbox, vdir_book(tmp_path))
    agent(path, "sync")
    digest = json.loads(agent(path, "digest", "--as-of", AS_OF.isoformat(), "--format", "json")
                        .output)  # fmt: skip
    by_rule = {(f["rule"], f["person"]["name"]): f for f in digest["findings"]}
    bob = by_rule[("birthday", "Bob Meyer")]
    assert bob["message"] == "Bob Meyer's birthday is on 2026-11-24, in 4 days (turns 46)."
    assert "nothing asked" in bob["suggestion"]
    assert by_rule[("birthday", "Erin Apple")]["message"].endswith("in 3 days.")
    assert ("anniversary", "Carla Díaz") in by_rule
    assert not any(rule == "birthday" and name == "Dave Leap" for rule, name in by_rule)
    text = path.read_text().replace(
        'timezone = "Europe/Berlin"', 'timezone = "Europe/Berlin"\nlanguage = "de"'
    )
    path.write_text(text)
    german = agent(path, "digest", "--as-of", AS_OF.isoformat(), "--format", "text").output
    assert "Geburtstage" in german and "(wird 46)" in german


def test_february_29_falls_on_the_28th_in_common_years() -> None:
    leap = Profile("d@x", "Dave", ("d@x",), (), None, birthday=PartialDate(2, 29, 2000))
    common = occasion_stats(leap, date(2027, 2, 25))
    assert common["next_birthday"] == "2027-02-28" and common["birthday_age"] == 27
    assert occasion_stats(leap, date(2028, 2, 25))["next_birthday"] == "2028-02-29"


def test_precedence_config_people_win_over_a_card(tmp_path: Path, mailbox: Path) -> None:
    book = vdir_book(tmp_path)
    book += '\n[[people]]\nname = "Robert"\nemails = ["bob@example.com"]\ntags = ["mentor"]\n'
    path = config(tmp_path, mailbox, book)
    agent(path, "sync")
    bob = people(path)["Robert"]
    assert set(bob["person"]["emails"]) == {"bob@example.com", "bob.meyer@work.example"}
    assert bob["person"]["tags"] == ["mentor", "close", "work"]


@pytest.mark.radicale
def test_carddav_gives_the_same_people_and_follows_edits_and_deletions(
    tmp_path: Path, mailbox: Path, radicale: Radicale, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = radicale.addressbook_url()
    for name, card in _one_per_resource():
        radicale.put_card(url + name, card)
    monkeypatch.setenv("DAV_PASSWORD", radicale.password)
    dav = (f'[[address_books]]\nname = "dav"\ntype = "carddav"\nurl = "{url}"\n'
           f'username = "{radicale.user}"\npassword_env = "DAV_PASSWORD"\n')  # fmt: skip
    over_dav = config(tmp_path, mailbox, dav)
    from_disk = config(tmp_path, mailbox, vdir_book(tmp_path))
    agent(over_dav, "sync")
    agent(from_disk, "sync")
    assert _comparable(people(over_dav, "--all")) == _comparable(people(from_disk, "--all"))
    assert "dav: 0 new" in agent(over_dav, "sync").output
    # The card is edited on the server: a new name, one address fewer.
    bob = (DATA / "bob.vcf").read_bytes().decode().replace("FN:Bob Meyer", "FN:Bobby Meyer")
    radicale.put_card(
        url + "bob-1.vcf", bob.replace("item2.EMAIL;TYPE=WORK:Bob.Meyer@work.example\r\n", "")
    )
    agent(over_dav, "sync")
    found = people(over_dav)
    assert (
        "Bobby Meyer" in found
        and "bob.meyer@work.example" not in found["Bobby Meyer"]["person"]["emails"]
    )
    radicale.delete(url + "bob-1.vcf")  # deleted: its addresses stop being one person
    agent(over_dav, "sync")
    names = set(people(over_dav))
    assert "Bobby Meyer" not in names and "Bob Meyer" in names  # the name from mail again


def _one_per_resource() -> list[tuple[str, bytes]]:
    """CardDAV keeps one card per resource: the test files' cards, each on its own."""
    out = []
    for path in sorted(DATA.glob("*.vcf")):
        for chunk in path.read_bytes().decode().split("BEGIN:VCARD\r\n")[1:]:
            if "END:VCARD" in chunk:  # the broken card has no end: a server refuses it
                uid = chunk.split("UID:", 1)[1].split("\r\n", 1)[0].replace(":", "-")
                out.append((f"{uid}.vcf", ("BEGIN:VCARD\r\n" + chunk).encode()))
    return out


def _comparable(found: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {n: (sorted(p["person"]["emails"]), p["person"]["tags"], p["stats"]["next_birthday"])
            for n, p in found.items()}  # fmt: skip


def test_every_real_export_loads_without_a_crash(tmp_path: Path) -> None:
    folders = sorted({p.parent for p in (corpora() / "vcf").rglob("*.vcf")})
    store = Store.open(f"sqlite:///{tmp_path / 'agent.db'}")
    total = 0
    for n, folder in enumerate(folders):
        book = AddressBookConfig(f"corpus{n}", "vcard", path=str(folder))
        total += connector_for(book, ME).sync(store)
    assert total > 1000 and len(store.cards()) == total
    store.close()


def test_a_broken_card_is_one_warning_naming_the_file_and_the_rest_counts() -> None:
    from connectors.contacts.vcard import parse

    parsed = parse((DATA / "erin.vcf").read_bytes(), "erin.vcf")
    assert [c.name for c in parsed.cards] == ["Erin Apple"]
    assert parsed.warnings == ["erin.vcf: 1 card(s) without END:VCARD skipped"]
    utf16 = (DATA / "bob.vcf").read_text().encode("utf-16")  # Outlook's and Google's exports
    assert [c.name for c in parse(utf16, "bob16.vcf").cards] == ["Bob Meyer"]


def test_group_cards_become_their_members_tags() -> None:
    from connectors.contacts.vcard import parse, with_groups

    text = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:AAA-1\r\nFN:Bob\r\nEMAIL:bob@example.com\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:grp-1\r\nFN:Climbing\r\n"
        b"X-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:aaa-1\r\n"
        b"END:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:grp-2\r\nFN:Family\r\nKIND:group\r\n"
        b"MEMBER:urn:uuid:AAA-1\r\nEND:VCARD\r\n"
    )
    parsed = parse(text, "groups.vcf")
    [bob] = with_groups(parsed.cards, parsed.groups)
    assert bob.categories == ("climbing", "family") and parsed.warnings == []
