"""agent.digest.delivery: build, send, and record only after the SMTP server accepted the digest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.config.settings import Config
from agent.digest.delivery import Analysis, default_period, deliver_digest, prepare_digest
from agent.errors import OperationError, UserError
from agent.store.database import Store
from tests.digest_fixtures import config, findings, reports
from tests.servers.common import free_port
from tests.servers.smtp import SmtpServer, part_text

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=BERLIN)  # a Wednesday in ISO week 48


def analyse(_config: Config, _store: Store, _as_of: datetime) -> Analysis:
    return Analysis(reports(), findings())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'agent.db'}")
    yield opened
    opened.close()


def cfg(
    port: int, every: str | None = "monday 08:00", fmt: str = "html", lang: str = "en"
) -> Config:
    digest: dict[str, Any] = {"to": "ana@example.org", "format": fmt}
    if every:
        digest["every"] = every
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "from": "agent@example.org"}
    me = {"name": "Ana", "emails": ["ana@example.org"], "timezone": "Europe/Berlin",
          "language": lang}  # fmt: skip
    return config(me=me, digest=digest, smtp=smtp)


@pytest.mark.smtp
def test_sends_then_records_the_schedule_period(smtp_server: SmtpServer, store: Store) -> None:
    result = deliver_digest(cfg(smtp_server.port), store, NOW, analyse=analyse)
    assert result.period == "2026-W48" and result.recorded and result.findings == 4
    [msg] = smtp_server.messages
    assert msg["Message-ID"] == result.message_id
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert "Reply owed (1)" in part_text(msg, "plain")
    assert store.digest_sent("2026-W48")
    last = store.last_digest()
    assert last is not None
    assert (last["message_id"], last["recipient"], last["findings"]) == (
        result.message_id, "ana@example.org", 4,
    )  # fmt: skip
    assert last["sent_at"] == NOW.astimezone(UTC)


@pytest.mark.smtp
def test_manual_send_in_a_recorded_period_still_sends(
    smtp_server: SmtpServer, store: Store
) -> None:
    first = deliver_digest(cfg(smtp_server.port), store, NOW, analyse=analyse)
    again = deliver_digest(cfg(smtp_server.port), store, NOW, analyse=analyse)
    assert first.recorded and not again.recorded
    assert len(smtp_server.messages) == 2
    last = store.last_digest()
    assert last is not None and last["message_id"] == first.message_id


@pytest.mark.smtp
def test_daemon_period_is_used_as_given(smtp_server: SmtpServer, store: Store) -> None:
    result = deliver_digest(cfg(smtp_server.port), store, NOW, period="2026-W47", analyse=analyse)
    assert result.period == "2026-W47" and store.digest_sent("2026-W47")
    assert not store.digest_sent("2026-W48")


@pytest.mark.smtp
def test_text_format_puts_the_plain_part_last(smtp_server: SmtpServer, store: Store) -> None:
    deliver_digest(cfg(smtp_server.port, fmt="markdown"), store, NOW, analyse=analyse)
    msg = smtp_server.messages[0]
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/html", "text/plain"]
    assert "## Reply owed (1)" in part_text(msg, "plain")


@pytest.mark.smtp
def test_language_from_me(smtp_server: SmtpServer, store: Store) -> None:
    deliver_digest(cfg(smtp_server.port, lang="it"), store, NOW, analyse=analyse)
    msg = smtp_server.messages[0]
    assert msg["Subject"] == "Il tuo riepilogo delle relazioni — 2026-11-25"
    assert "Risposta in sospeso (1)" in part_text(msg, "html")


def test_smtp_down_records_nothing(store: Store) -> None:
    port = free_port()
    with pytest.raises(OperationError, match=f"127.0.0.1:{port}"):
        deliver_digest(cfg(port), store, NOW, analyse=analyse)
    assert not store.digest_sent("2026-W48") and store.last_digest() is None


@pytest.mark.smtp
def test_smtp_refusing_records_nothing(smtp_refusing_server: SmtpServer, store: Store) -> None:
    with pytest.raises(OperationError, match="550"):
        deliver_digest(cfg(smtp_refusing_server.port), store, NOW, analyse=analyse)
    assert store.last_digest() is None


def test_dry_run_builds_but_neither_sends_nor_records(store: Store) -> None:
    result = deliver_digest(cfg(free_port()), store, NOW, send=False, analyse=analyse)
    assert result.message_id is None and not result.recorded and result.findings == 4
    assert store.last_digest() is None


def test_missing_smtp_fails_before_any_work(store: Store) -> None:
    def explode(*_: Any) -> Analysis:
        raise AssertionError("analysed before checking the config")

    with pytest.raises(UserError, match=r"\[smtp\]"):
        deliver_digest(config(digest={"to": "ana@example.org"}), store, NOW, analyse=explode)


def test_as_of_is_separate_from_the_send_time(store: Store) -> None:
    as_of = datetime(2026, 6, 1, 23, 59, tzinfo=BERLIN)
    seen: list[datetime] = []

    def spy(_c: Config, _s: Store, when: datetime) -> Analysis:
        seen.append(when)
        return Analysis([], [])

    result = deliver_digest(cfg(free_port()), store, NOW, as_of=as_of, send=False, analyse=spy)
    assert seen == [as_of] and result.digest.as_of.isoformat() == "2026-06-01"
    assert result.period == "2026-W48"  # the period of the send, not of the content


def test_default_period() -> None:
    monday_early = datetime(2026, 11, 23, 7, 0, tzinfo=BERLIN)  # before this week's slot
    assert default_period(cfg(1), monday_early) == "2026-W47"
    assert default_period(cfg(1), NOW.astimezone(UTC)) == "2026-W48"  # in [me] timezone
    assert default_period(cfg(1, every="daily 07:30"), NOW) == "2026-11-25"
    assert default_period(cfg(1, every=None), NOW) == "manual-20261125T083000Z"
    assert len(default_period(cfg(1, every=None), NOW)) <= 32  # digests.period is String(32)


def test_prepare_digest(store: Store) -> None:
    digest = prepare_digest(cfg(1), store, NOW, analyse=analyse)
    assert digest.as_of.isoformat() == "2026-11-25" and len(digest.groups) == 4
