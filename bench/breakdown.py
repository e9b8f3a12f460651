"""Where a first sync spends its time, stage by stage, without a profiler's distortion.

Runs the sync's three stages in one process over the same batches the connector uses and
times each on its own: the IMAP fetch (server work, socket wait and the connector's FETCH
reader, ``connectors.mail.imap_fetch.HeaderClient``), ``connectors.mail.headers.parse_headers``
on the fetched blocks, and ``Store.ingest`` into an empty database. Wall and CPU time per
stage: wall minus CPU in the fetch is time spent waiting for the server.
``python -m bench.breakdown --port P --user U --db sqlite:///...``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from imapclient import SocketTimeout

from agent.core.model import Located
from agent.store.database import Store
from bench.floor import FETCH
from connectors.mail.headers import parse_headers
from connectors.mail.imap_fetch import HeaderClient


@dataclass
class Stage:
    wall: float = 0.0
    cpu: float = 0.0

    def timed(self, fn: Any, *args: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu
        return result


@dataclass
class Breakdown:
    messages: int
    fetch: Stage
    parse: Stage
    store: Stage


def run(
    port: int, user: str, password: str, folders: Sequence[str], batch: int, url: str
) -> Breakdown:
    fetch, parse, ingest = Stage(), Stage(), Stage()
    store = Store.open(url)
    # The connector's own client: its FETCH reader is part of what the sync costs.
    client = HeaderClient("127.0.0.1", port=port, ssl=False,
                          timeout=SocketTimeout(connect=10, read=120))  # fmt: skip
    client.login(user, password)
    client.normalise_times = False
    count = 0
    for folder in folders:
        validity = str(client.select_folder(folder, readonly=True)[b"UIDVALIDITY"])
        uids = client.search(["ALL"])
        for start in range(0, len(uids), batch):
            answer = fetch.timed(client.fetch, uids[start : start + batch], FETCH)
            found = parse.timed(_parse, folder, answer)
            ingest.timed(store.ingest, "bench", folder, validity, found)
            count += len(found)
    client.logout()
    store.close()
    return Breakdown(count, fetch, parse, ingest)


def _parse(folder: str, answer: dict[int, dict[bytes, Any]]) -> list[Located]:
    out = []
    for uid, item in answer.items():
        raw = next((v for k, v in item.items() if k.startswith(b"BODY[")), b"")
        meta = parse_headers(bytes(raw), fallback_date=item.get(b"INTERNALDATE"))
        out.append(Located(folder=folder, location=str(uid), meta=meta))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--folders", default="INBOX,Sent")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--db", required=True, help="database URL (an empty database)")
    args = p.parse_args(argv)
    password = os.environ["BENCH_IMAP_PASSWORD"]
    result = run(args.port, args.user, password, args.folders.split(","), args.batch, args.db)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
