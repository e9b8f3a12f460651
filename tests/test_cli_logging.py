"""How the CLI logs: short lines for people, priorities for journald, details with --debug."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from agent.cli.main import _Formatter, _stderr_is_journal


def record(level: int, msg: str) -> logging.LogRecord:
    return logging.LogRecord("agent.runtime.sync", level, __file__, 1, msg, None, None)


def test_people_see_level_and_message_debug_adds_the_module() -> None:
    assert _Formatter(False, False).format(record(logging.WARNING, "x")) == "warning: x"
    assert _Formatter(True, False).format(record(logging.INFO, "x")) == "INFO agent.runtime.sync: x"


def test_journald_gets_syslog_priorities() -> None:
    fmt = _Formatter(False, True)
    assert fmt.format(record(logging.ERROR, "down")) == "<3>error: down"
    assert fmt.format(record(logging.INFO, "sync work: 3 new")) == "<6>info: sync work: 3 new"


def test_journal_stream_must_be_our_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with (tmp_path / "journal").open("w") as journal, (tmp_path / "other").open("w") as other:
        st = os.fstat(journal.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        monkeypatch.setattr(sys, "stderr", journal)
        assert _stderr_is_journal()
        # Inherited by a child whose stderr goes elsewhere: no priority prefixes there.
        monkeypatch.setattr(sys, "stderr", other)
        assert not _stderr_is_journal()
    monkeypatch.setenv("JOURNAL_STREAM", "garbage")
    assert not _stderr_is_journal()
