"""The connector contract: what every source kind promises, run against each real one.

Maildir, IMAP on Dovecot, an .ics file, an .ics feed over HTTP and CalDAV on Radicale all get
the same tests, and so do vCard folders and CardDAV address books (tests/contract_sources.py
has one adapter per kind): the first sync stores
everything, a sync with nothing new changes nothing, a new item is picked up alone, an item
removed upstream leaves the store where the source is a calendar (mail is history and
stays), a source that is gone is an error that keeps what was stored (a UserError for a
missing path, an OperationError for a server), wrong credentials are an OperationError, and
`check` describes the source in one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from agent.errors import OperationError
from agent.store.database import Store
from tests.contract_sources import KINDS, WITH_LOGIN, Source, make_source, stored

pytestmark = [pytest.mark.dovecot, pytest.mark.radicale]


@pytest.fixture(params=KINDS)
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    with ExitStack() as stack:
        yield make_source(request.param, tmp_path, stack, request)


@pytest.fixture(params=WITH_LOGIN)
def login_source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    with ExitStack() as stack:
        yield make_source(request.param, tmp_path, stack, request)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'agent.db'}")
    yield s
    s.close()


def test_first_sync_stores_everything(source: Source, store: Store) -> None:
    for n in (1, 2, 3):
        source.add(n)
    assert source.connector().sync(store) == 3
    assert len(stored(store, source.kind)) == 3


def test_a_sync_with_nothing_new_changes_nothing(source: Source, store: Store) -> None:
    source.add(1)
    source.add(2)
    connector = source.connector()
    connector.sync(store)
    before = (stored(store, source.kind), list(store.iter_messages()), list(store.iter_meetings()))
    assert connector.sync(store) == 0
    assert source.connector().sync(store) == 0  # a new process, the same answer
    after = (stored(store, source.kind), list(store.iter_messages()), list(store.iter_meetings()))
    assert after == before


def test_a_new_item_is_picked_up_alone(source: Source, store: Store) -> None:
    source.add(1)
    source.connector().sync(store)
    first = stored(store, source.kind)
    source.add(2)
    assert source.connector().sync(store) == 1
    assert first < stored(store, source.kind) and len(stored(store, source.kind)) == 2


def test_an_item_removed_upstream(source: Source, store: Store) -> None:
    source.add(1)
    source.add(2)
    source.connector().sync(store)
    source.remove(2)
    assert source.connector().sync(store) == 0
    assert len(stored(store, source.kind)) == (1 if source.deletes else 2)


def test_a_source_that_is_gone_is_an_error_that_keeps_the_store(
    source: Source, store: Store
) -> None:
    source.add(1)
    source.connector().sync(store)
    before = stored(store, source.kind)
    down = source.unreachable()
    with pytest.raises(source.down, match=source.down_says) as caught:
        down.sync(store)
    assert "\n" not in str(caught.value)
    assert stored(store, source.kind) == before


def test_wrong_credentials_are_an_operation_error(login_source: Source, store: Store) -> None:
    login_source.add(1)
    with pytest.raises(OperationError, match=login_source.login_says) as caught:
        login_source.connector(password="wrong").sync(store)
    assert "wrong" not in str(caught.value)  # the password is never repeated
    assert stored(store, login_source.kind) == set()


def test_check_describes_the_source_in_one_line(source: Source) -> None:
    source.add(1)
    detail = source.connector().check()
    assert re.fullmatch(source.check_says, detail), detail
