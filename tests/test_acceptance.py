"""One mailbox, three paths: Maildir into SQLite, Dovecot (IMAP) into SQLite, Dovecot into
PostgreSQL. People, metrics and findings must be identical; only the transport differs.

The mailbox is the bundled sample (planted relationships plus newsletters, notifications,
a mass mailing and a bounce), so a wrong count here is a wrong answer a user would see.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent.cli.main import main
from agent.sample import AS_OF, write_sample
from tests.servers.dovecot import DovecotServer

DAY = AS_OF.isoformat()
PASSWORD_ENV = "AGENT_TEST_IMAP_PASSWORD"


def agent(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result


def copy_into_dovecot(maildir: Path, server: DovecotServer) -> int:
    """Deliver every sample file into the same folder on the server, keeping its mtime."""
    count = 0
    for folder, directory in (("INBOX", maildir), ("Sent", maildir / ".Sent")):
        for path in sorted((directory / "cur").iterdir()):
            server.add_message(path.read_bytes(), folder, mtime=path.stat().st_mtime)
            count += 1
    return count


def imap_config(sample_config: Path, server: DovecotServer, database_url: str) -> Path:
    """The sample config with its Maildir account swapped for the Dovecot server."""
    text = sample_config.read_text()
    head, _, rest = text.partition("[[accounts]]")
    _, _, tail = rest.partition("\n\n")
    account = f"""[[accounts]]
name = "sample"
type = "imap"
host = "{server.host}"
port = {server.port}
security = "none"
username = "{server.user}"
password_env = "{PASSWORD_ENV}"
"""
    head = head.replace(head[head.index("url = ") : head.index("\n", head.index("url = "))],
                        f'url = "{database_url}"')  # fmt: skip
    path = sample_config.with_name("imap.toml")
    path.write_text(head + account + "\n" + tail)
    return path


def people(config: Path) -> list[dict[str, Any]]:
    """`agent people` as JSON, ids dropped (they follow insertion order) and sorted by name."""
    rows = json.loads(agent(config, "people", "--as-of", DAY, "--format", "json").output)
    for row in rows:
        row["person"].pop("id")
    return sorted(rows, key=lambda r: r["person"]["name"])


def findings(config: Path) -> list[tuple[str, str, str]]:
    digest = json.loads(agent(config, "digest", "--as-of", DAY, "--format", "json").output)
    return sorted((f["rule"], f["person"]["name"], f["message"]) for f in digest["findings"])


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    config = write_sample(tmp_path / "sample")
    agent(config, "sync")
    return config


@pytest.fixture
def password(dovecot: DovecotServer) -> Any:
    os.environ[PASSWORD_ENV] = dovecot.password
    yield
    os.environ.pop(PASSWORD_ENV, None)


def _through_dovecot(sample: Path, server: DovecotServer, url: str) -> Path:
    copied = copy_into_dovecot(sample.parent / "Maildir", server)
    config = imap_config(sample, server, url)
    synced = agent(config, "sync").output
    assert f"sample: {copied} new messages" in synced
    assert "sample: 0 new messages" in agent(config, "sync").output
    return config


@pytest.mark.dovecot
def test_maildir_and_dovecot_give_identical_people_and_findings(
    sample: Path, dovecot: DovecotServer, password: Any, tmp_path: Path
) -> None:
    config = _through_dovecot(sample, dovecot, f"sqlite:///{tmp_path / 'imap.db'}")
    expected = people(sample)
    assert len(expected) >= 7  # the planted people, and none of the noise
    assert people(config) == expected
    assert findings(config) == findings(sample)


@pytest.mark.dovecot
@pytest.mark.postgres
def test_dovecot_into_postgresql_gives_the_same_answers(
    sample: Path, dovecot: DovecotServer, password: Any, postgres_url: str
) -> None:
    config = _through_dovecot(sample, dovecot, postgres_url)
    assert people(config) == people(sample)
    assert findings(config) == findings(sample)


def test_the_same_mail_in_two_accounts_counts_once(sample: Path) -> None:
    """A second account holding a copy of the mailbox (an archive) adds no interaction."""
    before = people(sample)
    shutil.copytree(sample.parent / "Maildir", sample.parent / "Copy")
    text = sample.read_text().replace(
        "[[people]]",
        f'[[accounts]]\nname = "copy"\ntype = "maildir"\npath = "{sample.parent / "Copy"}"\n\n'
        "[[people]]",
        1,
    )
    sample.write_text(text)
    assert "copy: 0 new messages" in agent(sample, "sync").output
    assert people(sample) == before
