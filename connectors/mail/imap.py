"""IMAP connector: headers only, incremental per folder by UID, resumable after any failure.

Each folder's cursor is ``{"uidvalidity", "uidnext", "highestmodseq", "last_uid"}``, written by
``store.ingest`` in the transaction that stores the batch it covers. ``uidnext`` means "every
UID below this is stored": the server's UIDNEXT once the folder is complete, ``last_uid + 1``
while it is not. So a STATUS that still reports the cursor's UIDNEXT proves there is nothing
new, and a sync that died half-way is never mistaken for a finished one.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import imapclient
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from agent.config import secrets
from agent.config.settings import AccountConfig, MeConfig
from agent.core.model import Located
from agent.errors import OperationError, UserError
from agent.store.database import Store
from connectors import net
from connectors.base import Progress, no_progress
from connectors.mail.folders import ALL_FLAG, is_sent, skip_reason
from connectors.mail.headers import parse_headers
from connectors.mail.imap_fetch import FETCH_ITEMS, HeaderClient, header_block, internaldate
from connectors.mail.text import MAX_BYTES as MAX_TEXT_BYTES
from connectors.mail.text import plain_text

log = logging.getLogger(__name__)

STATUS_ITEMS = ["UIDVALIDITY", "UIDNEXT"]
OAUTH2 = secrets.OAUTH2_TOKEN  # SecretSpec.purpose of oauth2_token_command
# A connection that dies surfaces as any of these, depending on where the socket broke.
CONNECTION_LOST = (imaplib.IMAP4.abort, OSError, EOFError)
# Seconds a LOGOUT may take once a signal has asked the process to stop.
STOP_LOGOUT_TIMEOUT = 1.0

ClientFactory = Callable[..., IMAPClient]


@dataclass(frozen=True)
class _Folder:
    """What the server told us about a folder we are about to read."""

    name: str
    validity: int
    uidnext: int
    modseq: int | None

    def cursor(self, last_uid: int, complete: bool) -> dict[str, Any]:
        if not complete:
            return {"uidvalidity": self.validity, "uidnext": last_uid + 1, "last_uid": last_uid}
        state: dict[str, Any] = {
            "uidvalidity": self.validity,
            "uidnext": max(self.uidnext, last_uid + 1),
            "last_uid": last_uid,
        }
        if self.modseq is not None:
            state["highestmodseq"] = self.modseq
        return state


class ImapConnector:
    """Reads From/To/Date/... of every message in the configured folders, never a body."""

    NAME: ClassVar[str] = "imap"

    def __init__(
        self, config: AccountConfig, me: MeConfig, client_factory: ClientFactory = HeaderClient
    ) -> None:
        self.config = config
        self.me = me
        self.client_factory = client_factory
        self.where = f"{config.host}:{config.port}"
        self._kinds: dict[str, str] = {}  # folder -> "sent" | "all" | "" (from LIST)

    def check(self) -> str:
        """Log in and list the folders sync would read: ``"ana@h:993: INBOX (12), Sent (3)"``."""
        with self._session() as client:
            counts = [
                (f, self._status(client, f, ["MESSAGES"])[b"MESSAGES"])
                for f in self.folders(client)
            ]
            skipped = [] if self.config.folders else self._default_folders(client)[1]
        listed = ", ".join(f"{folder} ({count})" for folder, count in counts)
        text = f"{self.config.username}@{self.where}: {listed}"
        if skipped:
            text += "; not read: " + ", ".join(f"{f} ({why})" for f, why in skipped)
        return text

    def sync(self, store: Store, progress: Progress = no_progress) -> int:
        """Fetch what is new in every folder; return how many messages were new to the store."""
        with self._session() as client:
            folders = self.folders(client)
            self._kinds = _folder_kinds(client)
            items = STATUS_ITEMS + (["HIGHESTMODSEQ"] if client.has_capability("CONDSTORE") else [])
            # STATUS every folder first: a missing one fails the sync before anything is stored.
            statuses = {f: self._status(client, f, items) for f in folders}
            return sum(self._sync_folder(client, store, f, statuses[f], progress) for f in folders)

    def folders(self, client: IMAPClient) -> list[str]:
        """The configured folders, or every selectable folder but Trash, Junk and Drafts
        (Gmail: All Mail alone, which holds every label once)."""
        if self.config.folders:
            return list(dict.fromkeys(self.config.folders))
        return self._default_folders(client)[0]

    def _default_folders(self, client: IMAPClient) -> tuple[list[str], list[tuple[str, str]]]:
        read: list[str] = []
        skipped: list[tuple[str, str]] = []
        for raw_flags, delimiter, name in client.list_folders():
            flags = [_text(f) for f in raw_flags]
            lower = {f.lower() for f in flags}
            if "\\noselect" in lower or "\\nonexistent" in lower:
                continue
            if ALL_FLAG in lower:
                return [name], [(f, "Gmail: in All Mail") for f in read if f.upper() != "INBOX"]
            why = skip_reason(name, flags, _text(delimiter) if delimiter else "")
            if why is None:
                read.append(name)
            else:
                skipped.append((name, why))
        # INBOX first, then the server's order: progress and `agent check` read as expected.
        others = [f for f in read if f.upper() != "INBOX"]
        return ["INBOX", *others], skipped

    # -- one folder ---------------------------------------------------------------------

    def _sync_folder(
        self,
        client: IMAPClient,
        store: Store,
        name: str,
        status: dict[bytes, int],
        progress: Progress,
    ) -> int:
        cursor = store.get_cursor(self.config.name, name) or {}
        if _unchanged(cursor, status):
            log.debug("%s/%s: unchanged since last sync, not selected", self.config.name, name)
            return 0
        folder = _selected(name, client.select_folder(name, readonly=True), status)
        last_uid = self._resume_point(folder, cursor)
        uids = _new_uids(client, last_uid)
        if not uids:
            # Nothing to fetch (flags changed, or mail came and went): keep the new UIDNEXT so
            # the next STATUS short-circuits.
            self._ingest(store, folder, [], folder.cursor(last_uid, complete=True))
            return 0
        return self._fetch_all(client, store, folder, uids, progress)

    def _resume_point(self, folder: _Folder, cursor: dict[str, Any]) -> int:
        if cursor.get("uidvalidity") == folder.validity:
            return int(cursor.get("last_uid", 0))
        if cursor:
            # UIDs of the old validity mean nothing now; Message-IDs keep the rescan duplicate-free.
            log.info(
                "%s/%s: UIDVALIDITY changed (%s -> %s); reading the folder again",
                self.config.name, folder.name, cursor.get("uidvalidity"), folder.validity,
            )  # fmt: skip
        return 0

    def _fetch_all(
        self,
        client: IMAPClient,
        store: Store,
        folder: _Folder,
        uids: list[int],
        progress: Progress,
    ) -> int:
        new, size = 0, self.config.batch_size
        for start in range(0, len(uids), size):
            batch = uids[start : start + size]
            found = self._fetch(client, folder.name, batch)
            done = start + len(batch)
            new += self._ingest(store, folder, found, folder.cursor(batch[-1], done == len(uids)))
            progress(self.config.name, folder.name, done, len(uids))
        return new

    def _ingest(
        self, store: Store, folder: _Folder, found: list[Located], cursor: dict[str, Any]
    ) -> int:
        # Rows and cursor in one transaction: a crash after this line loses nothing.
        kind = self._kinds.get(folder.name)
        return store.ingest(
            self.config.name, folder.name, str(folder.validity), found, cursor,
            sent=is_sent(folder.name) if kind is None else kind == "sent", all_mail=kind == "all",
        )  # fmt: skip

    def message_text(self, folder: str, location: str) -> str:
        """The text of the message with UID ``location`` in ``folder``, or "" (read-only;
        at most MAX_TEXT_BYTES are fetched)."""
        if not location.isdigit():
            return ""
        uid = int(location)
        with self._session() as client:
            client.select_folder(folder, readonly=True)
            part = f"BODY.PEEK[]<0.{MAX_TEXT_BYTES}>"
            data = client.fetch([uid], [part]).get(uid) or {}
        raw = next((v for k, v in data.items() if k.upper().startswith(b"BODY[")), b"")
        return plain_text(bytes(raw or b""))

    def _fetch(self, client: IMAPClient, folder: str, uids: list[int]) -> list[Located]:
        response = client.fetch(uids, FETCH_ITEMS)
        found = []
        for uid in uids:
            data = response.get(uid)
            if data is None:
                continue  # expunged between SEARCH and FETCH
            meta = parse_headers(header_block(data), fallback_date=internaldate(data))
            for problem in meta.problems:
                log.debug("%s/%s UID %d: %s", self.config.name, folder, uid, problem)
            found.append(Located(folder=folder, location=str(uid), meta=meta))
        return found

    def _status(self, client: IMAPClient, folder: str, items: list[str]) -> dict[bytes, int]:
        try:
            return client.folder_status(folder, items)  # type: ignore[no-any-return]
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            if client.folder_exists(folder):
                raise
            raise UserError(
                f"[accounts.{self.config.name}] folders: {self.where} has no folder {folder!r}"
            ) from None

    # -- connection ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self) -> Iterator[IMAPClient]:
        secret = self._secret()
        client = self._connect()
        stopped = False
        try:
            if self.config.security == "starttls":
                self._starttls(client)
            if not _preauthenticated(client):
                self._login(client, secret)
            # Aware INTERNALDATEs: naive local times would later be read as UTC.
            client.normalise_times = False
            yield client
        except (OSError, EOFError, imaplib.IMAP4.error) as exc:
            raise self._failure(exc, f"connection to {self.where} lost") from None
        except BaseException as exc:
            stopped = not isinstance(exc, Exception)  # the daemon's SIGTERM Shutdown, Ctrl-C
            raise
        finally:
            _close(client, stopped)

    def _starttls(self, client: IMAPClient) -> None:
        if not client.has_capability("STARTTLS"):
            raise OperationError(
                f'{self.where} does not offer STARTTLS; check the port, or use security = "ssl"'
            )
        client.starttls(self._ssl_context())

    def _secret(self) -> str:
        if self.config.secret is None:
            raise UserError(f"[accounts.{self.config.name}]: no password or token source")
        return secrets.resolve(self.config.secret)

    def _connect(self) -> IMAPClient:
        c = self.config
        context = self._ssl_context() if c.security == "ssl" else None
        timeout = imapclient.SocketTimeout(connect=c.timeout, read=c.timeout)
        try:
            return self.client_factory(
                c.host, port=c.port, ssl=c.security == "ssl", ssl_context=context, timeout=timeout
            )
        except (OSError, EOFError, imaplib.IMAP4.error) as exc:
            raise self._failure(exc, f"cannot connect to {self.where}") from None

    def _ssl_context(self) -> ssl.SSLContext:
        return net.tls_context(f"accounts.{self.config.name}", self.config.ca_file)

    def _login(self, client: IMAPClient, secret: str) -> None:
        c = self.config
        try:
            if c.secret is not None and c.secret.purpose == OAUTH2:
                client.oauth2_login(c.username, secret)
            else:
                client.login(c.username, secret)
        except LoginError as exc:
            raise OperationError(
                f"login to {c.host} as {c.username} failed: {_server_text(exc)}"
            ) from None

    def _failure(self, exc: BaseException, doing: str) -> OperationError:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return OperationError(
                f"the TLS certificate of {self.where} could not be verified "
                f"({exc.verify_message}); for a self-signed or private-CA certificate set "
                f"ca_file in [accounts.{self.config.name}] to the CA's PEM file"
            )
        if isinstance(exc, CONNECTION_LOST):
            return OperationError(f"{doing}: {net.reason(exc)}")
        return OperationError(f"{self.where} refused a command: {_server_text(exc)}")


def _unchanged(cursor: dict[str, Any], status: dict[bytes, int]) -> bool:
    # UIDNEXT grows with every message added, so an equal one means nothing new (flag changes
    # and expunges move HIGHESTMODSEQ only, and we track neither).
    uidnext = status.get(b"UIDNEXT")
    return (
        uidnext is not None
        and cursor.get("uidvalidity") == status.get(b"UIDVALIDITY")
        and int(cursor.get("uidnext", 0)) >= int(uidnext)
    )


def _selected(name: str, response: dict[bytes, Any], status: dict[bytes, int]) -> _Folder:
    # SELECT's values are the ones SEARCH sees; STATUS is the fallback for sparse servers.
    validity = response.get(b"UIDVALIDITY", status.get(b"UIDVALIDITY"))
    uidnext = response.get(b"UIDNEXT", status.get(b"UIDNEXT", 1))
    modseq = status.get(b"HIGHESTMODSEQ")
    return _Folder(name, int(validity or 0), int(uidnext), None if modseq is None else int(modseq))


def _new_uids(client: IMAPClient, last_uid: int) -> list[int]:
    # "UID n:*" always matches the highest UID, even when that is below n: filter.
    found = client.search(["UID", f"{last_uid + 1}:*"])
    return sorted(uid for uid in found if uid > last_uid)


def _preauthenticated(client: IMAPClient) -> bool:
    """The server greeted with PREAUTH (RFC 3501 7.1.4): it knows who we are already, as an
    IMAP server behind an authenticating tunnel or proxy does; a LOGIN now would be refused."""
    welcome = getattr(client, "welcome", b"") or b""
    return bytes(welcome).upper().startswith(b"* PREAUTH")


def _server_text(exc: BaseException) -> str:
    # imapclient wraps the server's words as "<command> failed: b'...'"; keep only the words.
    text = str(exc)
    _, sep, rest = text.partition(" failed: ")
    text = rest if sep else text
    if text[:2] in ("b'", 'b"') and text[-1:] == text[1]:
        text = text[2:-1]
    return text.strip()


def _close(client: IMAPClient, stopped: bool = False) -> None:
    """Log out; after a stop (``stopped``) only if that cannot keep the process waiting."""
    if stopped and _mid_reply(client):
        # Stopped half-way through a reply (a long FETCH): LOGOUT would first have to read the
        # rest of it, which on a slow or stalled link takes longer than a stop may.
        with contextlib.suppress(Exception):
            client.shutdown()
        return
    if stopped:
        with contextlib.suppress(Exception):
            client.socket().settimeout(STOP_LOGOUT_TIMEOUT)
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may be dead already; nothing to report
        with contextlib.suppress(Exception):
            client.shutdown()


def _mid_reply(client: IMAPClient) -> bool:
    # imaplib keeps each command's tag until its tagged reply has been read.
    imap = getattr(client, "_imap", None)
    return bool(getattr(imap, "tagged_commands", None))


def _folder_kinds(client: IMAPClient) -> dict[str, str]:
    """Which folders are Sent (\\Sent, else by name) and which is Gmail's All Mail."""
    kinds: dict[str, str] = {}
    for raw_flags, delimiter, name in client.list_folders():
        flags = [_text(f) for f in raw_flags]
        if ALL_FLAG in {f.lower() for f in flags}:
            kinds[name] = "all"
        else:
            sep = _text(delimiter) if delimiter else ""
            kinds[name] = "sent" if is_sent(name, flags, sep) else ""
    return kinds


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
