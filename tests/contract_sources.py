"""One adapter per kind of source, so the connector contract (test_connector_contract.py) runs
the same tests against each: a Maildir, IMAP on Dovecot, an .ics file, an .ics feed over
HTTP, CalDAV on Radicale. A new connector gets the contract by adding an adapter here.

An adapter owns a live source and knows how to add an item to it, remove one, take it down,
and make a connector for it, with good or with wrong credentials.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from agent.config.secrets import SecretSpec
from agent.config.settings import AccountConfig, AddressBookConfig, CalendarConfig, MeConfig
from agent.errors import OperationError, UserError
from agent.store.database import Store
from connectors import Connector, connector_for
from tests.servers.common import free_port
from tests.servers.dovecot import DovecotServer
from tests.servers.http_feed import Feed, serve_feed
from tests.servers.radicale import Radicale

ME = MeConfig("Ana Example", ("ana@example.org",), "Europe/Berlin")
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
_serial = itertools.count(1)


def clock() -> datetime:
    return NOW


def message(n: int) -> bytes:
    when = (NOW - timedelta(days=n)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (
        f"Message-ID: <contract-{n}@example.com>\r\nFrom: Bob <bob@example.com>\r\n"
        f"To: ana@example.org\r\nDate: {when}\r\nSubject: Note {n}\r\n\r\nHello\r\n"
    ).encode()


def event(n: int) -> str:
    start = (NOW - timedelta(days=n)).strftime("%Y%m%dT%H%M%SZ")
    return (
        f"BEGIN:VEVENT\r\nUID:contract-{n}@example.com\r\nDTSTAMP:{start}\r\nDTSTART:{start}\r\n"
        "DURATION:PT1H\r\nSUMMARY:Coffee\r\nORGANIZER:mailto:ana@example.org\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\nEND:VEVENT\r\n"
    )


def calendar(items: list[int]) -> bytes:
    body = "".join(event(n) for n in items)
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//contract//EN\r\n"
    return f"{head}{body}END:VCALENDAR\r\n".encode()


class Source(Protocol):
    """A live source under test."""

    kind: str  # "mail" | "calendar"
    deletes: bool  # an item removed upstream leaves the store (calendars); mail keeps history
    # What a source that is gone raises: a missing local path is the user's to fix
    # (UserError); a server that does not answer is an OperationError.
    down: type[Exception]
    # What the messages say, as regular expressions: `check` with one item, a source that is
    # gone, a wrong password. Each names the source, never the password.
    check_says: str
    down_says: str
    login_says: str

    def add(self, n: int) -> None: ...
    def remove(self, n: int) -> None: ...
    def connector(self, password: str | None = None) -> Connector: ...
    def unreachable(self) -> Connector: ...


def card(n: int) -> bytes:
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:contract-{n}\r\nFN:Person {n}\r\n"
        f"EMAIL:p{n}@example.com\r\nEND:VCARD\r\n"
    ).encode()


def stored(store: Store, kind: str) -> set[str]:
    """The keys of what the store holds from a source of ``kind``."""
    if kind == "mail":
        return {row.key for row in store.iter_messages()}
    if kind == "contacts":
        return {c.uid for c in store.cards()}
    return {row.key for row in store.iter_meetings()}


def _ics_config(
    name: str, url: str, username: str = "", secret: SecretSpec | None = None
) -> CalendarConfig:
    return CalendarConfig(name, "ics", url, username=username, secret=secret, timeout=5.0)


@dataclasses.dataclass
class MaildirSource:
    root: Path
    kind: str = "mail"
    deletes: bool = False
    down: type[Exception] = UserError
    check_says: str = r"1 folder \(INBOX\), 1 message"
    down_says: str = r"\[accounts.home\] path: .*Maildir is not a Maildir \(no cur/ or new/\)"
    login_says: str = ""

    def __post_init__(self) -> None:
        for sub in ("cur", "new", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def add(self, n: int) -> None:
        (self.root / "cur" / f"{n}.contract:2,S").write_bytes(message(n))

    def remove(self, n: int) -> None:
        (self.root / "cur" / f"{n}.contract:2,S").unlink()

    def connector(self, password: str | None = None) -> Connector:
        return connector_for(AccountConfig("home", "maildir", path=str(self.root)), ME)

    def unreachable(self) -> Connector:
        shutil.rmtree(self.root)  # an unmounted disk, a moved folder
        return self.connector()


@dataclasses.dataclass
class ImapSource:
    server: DovecotServer
    kind: str = "mail"
    deletes: bool = False
    down: type[Exception] = OperationError
    check_says: str = r"alice@127\.0\.0\.1:\d+: INBOX \(1\)"
    down_says: str = r"cannot connect to 127\.0\.0\.1:\d+: Connection refused"
    login_says: str = r"login to 127\.0\.0\.1 as alice failed: .*AUTHENTICATIONFAILED"

    def add(self, n: int) -> None:
        self.server.save(message(n))

    def remove(self, n: int) -> None:
        self.server.doveadm(
            "expunge", "-u", self.server.user, "mailbox", "INBOX", "header", "Message-ID",
            f"contract-{n}@example.com",
        )  # fmt: skip
        assert self.server.status("INBOX")["messages"] == 1, "the expunge did not happen"

    def connector(self, password: str | None = None) -> Connector:
        account = self.server.account(folders=("INBOX",))
        if password is not None:
            account = dataclasses.replace(account, secret=SecretSpec("plain", password))
        return connector_for(account, ME)

    def unreachable(self) -> Connector:
        self.server.stop()
        return self.connector()


@dataclasses.dataclass
class IcsFileSource:
    path: Path
    items: list[int] = dataclasses.field(default_factory=list)
    kind: str = "calendar"
    deletes: bool = True
    down: type[Exception] = UserError
    check_says: str = r"1 event, 1 occurrence with you"
    down_says: str = r"\[calendars.cal\] url: no file .*cal\.ics"
    login_says: str = ""

    def add(self, n: int) -> None:
        self.items.append(n)
        self.path.write_bytes(calendar(self.items))

    def remove(self, n: int) -> None:
        self.items.remove(n)
        self.path.write_bytes(calendar(self.items))

    def connector(self, password: str | None = None) -> Connector:
        from connectors.calendar.ics import IcsConnector

        return IcsConnector(_ics_config("cal", str(self.path)), ME, clock=clock)

    def unreachable(self) -> Connector:
        self.path.unlink()
        return self.connector()


@dataclasses.dataclass
class IcsFeedSource:
    feed: Feed
    items: list[int] = dataclasses.field(default_factory=list)
    kind: str = "calendar"
    deletes: bool = True
    down: type[Exception] = OperationError
    check_says: str = r"1 event, 1 occurrence with you"
    down_says: str = r"http://127\.0\.0\.1:\d+/private\.ics: cannot connect: .*refused"
    login_says: str = r"http://127\.0\.0\.1:\d+/private\.ics: HTTP 401 Unauthorized"

    def add(self, n: int) -> None:
        self.items.append(n)
        self.feed.body = calendar(self.items)

    def remove(self, n: int) -> None:
        self.items.remove(n)
        self.feed.body = calendar(self.items)

    def connector(self, password: str | None = None) -> Connector:
        from connectors.calendar.ics import IcsConnector

        secret = SecretSpec("plain", self.feed.password if password is None else password)
        config = _ics_config(
            "feed", self.feed.url("/private.ics"), username=self.feed.user, secret=secret
        )
        return IcsConnector(config, ME, clock=clock)

    def unreachable(self) -> Connector:
        from connectors.calendar.ics import IcsConnector

        config = _ics_config("feed", f"http://127.0.0.1:{free_port()}/private.ics")
        return IcsConnector(config, ME, clock=clock)


@dataclasses.dataclass
class CaldavSource:
    radicale: Radicale
    url: str
    kind: str = "calendar"
    deletes: bool = True
    down: type[Exception] = OperationError
    check_says: str = r"1 calendar \(contract-\d+\), 1 event, 1 occurrence with you"
    down_says: str = r"http://127\.0\.0\.1:\d+/ana/x/: cannot connect: .*refused"
    login_says: str = r"http://127\.0\.0\.1:\d+/ana/contract-\d+/: access refused \(HTTP 401\)"

    def add(self, n: int) -> None:
        self.radicale.put(f"{self.url}contract-{n}.ics", calendar([n]))

    def remove(self, n: int) -> None:
        self.radicale.delete(f"{self.url}contract-{n}.ics")

    def connector(self, password: str | None = None) -> Connector:
        from connectors.calendar.caldav import CaldavConnector

        secret = SecretSpec("plain", self.radicale.password if password is None else password)
        config = CalendarConfig(
            "dav", "caldav", self.url, username=self.radicale.user, secret=secret, timeout=5.0
        )
        return CaldavConnector(config, ME, clock=clock)

    def unreachable(self) -> Connector:
        from connectors.calendar.caldav import CaldavConnector

        url = f"http://127.0.0.1:{free_port()}/{self.radicale.user}/x/"
        config = dataclasses.replace(self.connector().config, url=url)  # type: ignore[attr-defined]
        return CaldavConnector(config, ME, clock=clock)


@dataclasses.dataclass
class VcardSource:
    folder: Path
    kind: str = "contacts"
    deletes: bool = True
    down: type[Exception] = UserError
    check_says: str = r"1 file, 1 card, 1 address"
    down_says: str = r"\[address_books.book\] path: no file or folder .*contacts"
    login_says: str = ""

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def add(self, n: int) -> None:
        (self.folder / f"{n}.vcf").write_bytes(card(n))

    def remove(self, n: int) -> None:
        (self.folder / f"{n}.vcf").unlink()

    def connector(self, password: str | None = None) -> Connector:
        return connector_for(AddressBookConfig("book", "vcard", path=str(self.folder)), ME)

    def unreachable(self) -> Connector:
        shutil.rmtree(self.folder)
        return self.connector()


@dataclasses.dataclass
class CarddavSource:
    radicale: Radicale
    url: str
    kind: str = "contacts"
    deletes: bool = True
    down: type[Exception] = OperationError
    check_says: str = r"1 address book, 1 card"
    down_says: str = r"http://127\.0\.0\.1:\d+/ana/x/: cannot connect: .*refused"
    login_says: str = r"http://127\.0\.0\.1:\d+/ana/book-\d+/: access refused \(HTTP 401\)"

    def add(self, n: int) -> None:
        self.radicale.put_card(f"{self.url}{n}.vcf", card(n))

    def remove(self, n: int) -> None:
        self.radicale.delete(f"{self.url}{n}.vcf")

    def connector(self, password: str | None = None, url: str = "") -> Connector:
        secret = SecretSpec("plain", self.radicale.password if password is None else password)
        config = AddressBookConfig(
            "dav", "carddav", url=url or self.url, username=self.radicale.user, secret=secret,
            timeout=5.0,
        )  # fmt: skip
        return connector_for(config, ME)

    def unreachable(self) -> Connector:
        return self.connector(url=f"http://127.0.0.1:{free_port()}/{self.radicale.user}/x/")


KINDS = ("maildir", "imap", "ics-file", "ics-feed", "caldav", "vcard", "carddav")
WITH_LOGIN = ("imap", "ics-feed", "caldav", "carddav")  # the kinds whose login can be wrong


def make_source(kind: str, tmp_path: Path, stack: ExitStack, request: object) -> Source:
    """A fresh source of ``kind``; servers come from the shared fixtures (``request``)."""
    getfixture = request.getfixturevalue  # type: ignore[attr-defined]
    if kind == "maildir":
        return MaildirSource(tmp_path / "Maildir")
    if kind == "imap":
        return ImapSource(getfixture("dovecot"))
    if kind == "ics-file":
        return IcsFileSource(tmp_path / "cal.ics")
    if kind == "ics-feed":
        return IcsFeedSource(stack.enter_context(serve_feed(calendar([]))))
    if kind == "vcard":
        return VcardSource(tmp_path / "contacts")
    if kind == "carddav":
        dav: Radicale = getfixture("radicale")
        return CarddavSource(dav, dav.addressbook_url(f"book-{next(_serial)}"))
    radicale: Radicale = getfixture("radicale")
    return CaldavSource(radicale, radicale.calendar_url(f"contract-{next(_serial)}"))
