"""A CardDAV server (RFC 6352): Nextcloud, Radicale, iCloud, Fastmail, Google and others.

The URL names an address book, or a principal or server URL from which every address book of
the user is found (current-user-principal, addressbook-home-set). Each sync asks every book
for its cards' ETags in one PROPFIND; only when one changed, appeared or went are the cards
fetched, in one addressbook-multiget REPORT per book. TLS is verified (connectors.net), the
password comes from the same secret sources as mail, and it is sent only to the configured
host.
"""

from __future__ import annotations

import base64
import logging
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, ClassVar

from agent.config.secrets import resolve
from agent.config.settings import AddressBookConfig, MeConfig
from agent.core.model import Card
from agent.errors import OperationError
from connectors import net
from connectors.base import Progress, counted, no_progress
from connectors.calendar.ics import safe_url
from connectors.contacts import vcard

if TYPE_CHECKING:
    from agent.store.database import Store

log = logging.getLogger(__name__)

DAV, CARD = "DAV:", "urn:ietf:params:xml:ns:carddav"
MAX_RESPONSE = 100 * 1024 * 1024
_NS = {"d": DAV, "c": CARD}

_PROPFIND_FIND = f"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="{DAV}" xmlns:c="{CARD}"><d:prop>
<d:resourcetype/><d:current-user-principal/><c:addressbook-home-set/><d:displayname/>
</d:prop></d:propfind>"""
_PROPFIND_ETAGS = f"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="{DAV}"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>"""


class CarddavConnector:
    NAME: ClassVar[str] = "carddav"

    def __init__(self, config: AddressBookConfig, me: MeConfig) -> None:
        self.config = config
        self.me = me
        self.where = safe_url(config.url)
        parts = urllib.parse.urlsplit(config.url)
        self._origin = (parts.scheme, parts.netloc.rpartition("@")[2].lower())
        self._url = urllib.parse.urlunsplit(parts._replace(netloc=self._origin[1]))
        self._auth = self._authorization(parts)
        self._built: urllib.request.OpenerDirector | None = None

    def check(self) -> str:
        books = self._books()
        cards = [c for book in books for c in self._cards(book, self._etags(book))]
        return f"{counted(len(books), 'address book')}, {counted(len(cards), 'card')}"

    def sync(self, store: Store, progress: Progress = no_progress) -> int:
        books = self._books()
        etags = {book: self._etags(book) for book in books}
        state = {"etags": etags}
        if store.get_cursor(self.config.name, "") == state:
            return 0
        cards = [c for book in books for c in self._cards(book, etags[book])]
        progress(self.config.name, "", len(cards), len(cards))
        return store.replace_cards(self.config.name, cards, state)

    # -- discovery ---------------------------------------------------------------------

    def _books(self) -> list[str]:
        """The address book at the URL, or every book of the principal it leads to."""
        found = self._propfind(self._url, _PROPFIND_FIND, depth="0")
        own = self._path(self._url).rstrip("/")
        here = next((p for h, p in found.items() if h.rstrip("/") == own), None)
        here = here if here is not None else next(iter(found.values()), None)
        if here is None:
            raise OperationError(f"{self.where}: the server said nothing about this URL")
        if here.find("d:resourcetype/c:addressbook", _NS) is not None:
            return [self._url]
        home = here.find("c:addressbook-home-set/d:href", _NS)
        if home is None:
            principal = here.find("d:current-user-principal/d:href", _NS)
            if principal is None or not principal.text:
                raise OperationError(f"{self.where}: not an address book, and no principal found")
            url = self._absolute(principal.text)
            props = self._propfind(url, _PROPFIND_FIND, depth="0")
            node = next(iter(props.values()), None)
            home = node.find("c:addressbook-home-set/d:href", _NS) if node is not None else None
        if home is None or not home.text:
            raise OperationError(f"{self.where}: the server names no address book home")
        listing = self._propfind(self._absolute(home.text), _PROPFIND_FIND, depth="1")
        books = [self._absolute(href) for href, prop in listing.items()
                 if prop.find("d:resourcetype/c:addressbook", _NS) is not None]  # fmt: skip
        return sorted(books)

    def _etags(self, book: str) -> dict[str, str]:
        listing = self._propfind(book, _PROPFIND_ETAGS, depth="1")
        return {
            href: (prop.findtext("d:getetag", "", _NS) or "").strip()
            for href, prop in sorted(listing.items())
            if prop.find("d:resourcetype/d:collection", _NS) is None
        }

    def _cards(self, book: str, etags: dict[str, str]) -> list[Card]:
        if not etags:
            return []
        hrefs = "".join(f"<d:href>{_xml_text(h)}</d:href>" for h in etags)
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><c:addressbook-multiget xmlns:d="{DAV}" '
            f'xmlns:c="{CARD}"><d:prop><d:getetag/><c:address-data/></d:prop>{hrefs}'
            "</c:addressbook-multiget>"
        )
        root = self._request(book, "REPORT", body, depth="1")
        parsed = vcard.read_all(
            (
                response.findtext("d:propstat/d:prop/c:address-data", "", _NS).encode("utf-8"),
                f"{self.where} {response.findtext('d:href', '', _NS)}",
            )
            for response in root.findall("d:response", _NS)
        )
        for warning in parsed.warnings:
            log.warning("%s", warning)
        return parsed.cards

    # -- HTTP --------------------------------------------------------------------------

    def _propfind(self, url: str, body: str, depth: str) -> dict[str, ET.Element]:
        root = self._request(url, "PROPFIND", body, depth)
        out: dict[str, ET.Element] = {}
        for response in root.findall("d:response", _NS):
            href = response.findtext("d:href", "", _NS)
            merged = ET.Element("prop")
            for propstat in response.findall("d:propstat", _NS):
                if "200" in (propstat.findtext("d:status", "", _NS) or ""):
                    for prop in propstat.findall("d:prop", _NS):
                        merged.extend(list(prop))
            out[self._path(self._absolute(href))] = merged
        return out

    def _request(self, url: str, method: str, body: str, depth: str) -> ET.Element:
        if (urllib.parse.urlsplit(url).scheme, urllib.parse.urlsplit(url).netloc.lower()) != (
            self._origin
        ):
            raise OperationError(f"{self.where}: the server pointed at another host ({url})")
        headers = {"Content-Type": "application/xml; charset=utf-8", "Depth": depth}
        if self._auth:
            headers["Authorization"] = self._auth
        request = urllib.request.Request(url, body.encode(), headers, method=method)
        try:
            with self._opener().open(request, timeout=self.config.timeout) as resp:
                raw = resp.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as exc:
            raise OperationError(_http_error(self.where, exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OperationError(f"{self.where}: cannot connect: {reason}") from None
        if len(raw) > MAX_RESPONSE:
            raise OperationError(f"{self.where}: the answer is over {MAX_RESPONSE} bytes")
        try:
            return ET.fromstring(raw)
        except ET.ParseError as exc:
            raise OperationError(f"{self.where}: the server's answer is not XML ({exc})") from None

    def _opener(self) -> urllib.request.OpenerDirector:
        """One verifying TLS context for every request of this connector."""
        if self._built is None:
            context = net.tls_context(f"address_books.{self.config.name}", self.config.ca_file)
            self._built = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        return self._built

    def _authorization(self, parts: urllib.parse.SplitResult) -> str:
        user = self.config.username or urllib.parse.unquote(parts.username or "")
        if self.config.secret is not None:
            password = resolve(self.config.secret)
        else:
            password = urllib.parse.unquote(parts.password or "")
        if not user and not password:
            return ""
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _absolute(self, href: str) -> str:
        return urllib.parse.urljoin(self._url, href)

    @staticmethod
    def _path(url: str) -> str:
        """The path of a URL as the server spells it (an href to send back unchanged)."""
        return urllib.parse.urlsplit(url).path


def _http_error(where: str, exc: urllib.error.HTTPError) -> str:
    with exc:
        if exc.code in (401, 403):
            return f"{where}: access refused (HTTP {exc.code}); check username and password source"
        return f"{where}: HTTP {exc.code} {exc.reason}"


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
