"""The protocol floor: what fetching exactly the headers sync needs costs, and nothing else.

Logs in, and for each folder: SELECT (read-only), UID SEARCH ALL, then UID FETCH of
``BODY.PEEK[HEADER.FIELDS (connectors.mail.headers.FIELDS)]`` + INTERNALDATE in batches of the same
size the IMAP connector uses, discarding the answers. No parsing, no database. Run as its own
process (``python -m bench.floor ...``) so it pays the same interpreter start as ``agent sync``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from imapclient import IMAPClient, SocketTimeout

from connectors.mail.headers import FIELDS

# The same items as connectors.mail.imap_fetch.FETCH_ITEMS, spelled out so the floor does not
# pay for importing the agent (SQLAlchemy) that it is measured against.
FETCH = [f"BODY.PEEK[HEADER.FIELDS ({' '.join(FIELDS).upper()})]", "INTERNALDATE"]


def fetch_all(
    host: str, port: int, user: str, password: str, folders: Sequence[str], batch: int
) -> tuple[int, int]:
    """Fetch every message's header fields once; return (messages, header bytes) seen."""
    client = IMAPClient(host, port=port, ssl=False, timeout=SocketTimeout(connect=10, read=120))
    client.login(user, password)
    messages = size = 0
    try:
        for folder in folders:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            for start in range(0, len(uids), batch):
                answer = client.fetch(uids[start : start + batch], FETCH)
                messages += len(answer)
                size += sum(len(_header_bytes(item)) for item in answer.values())
    finally:
        client.logout()
    return messages, size


def _header_bytes(item: dict[bytes, object]) -> bytes:
    # The response key echoes the request in upper case and may differ in spacing: take the
    # one BODY[...] item rather than rebuilding its exact name.
    for key, value in item.items():
        if key.startswith(b"BODY[") and isinstance(value, bytes):
            return value
    return b""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--folders", default="INBOX,Sent")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    password = os.environ["BENCH_IMAP_PASSWORD"]
    folders = args.folders.split(",")
    messages, size = fetch_all(args.host, args.port, args.user, password, folders, args.batch)
    print(f"{messages} messages, {size} header bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
