"""The first hour (issue 13): the example config as copied, checks that write nothing, a
damaged database named with a way out."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def run(config: Path, *args: str) -> object:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def test_the_example_config_checks_offline_without_writing_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (tmp_path / "Mail" / "archive" / "cur").mkdir(parents=True)  # the one path to edit
    result = run(ROOT / "config.example.toml", "check", "--offline")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "does not exist yet" in result.output  # type: ignore[attr-defined]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["Mail", "archive", "cur"]


def test_a_damaged_database_is_named_with_a_way_out(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Mail" / sub).mkdir(parents=True)
    config.write_text(
        '[me]\nemails = ["ana@example.org"]\ntimezone = "UTC"\n\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/agent.db"\n\n'
        f'[[accounts]]\nname = "mail"\ntype = "maildir"\npath = "{tmp_path}/Mail"\n'
    )
    assert run(config, "digest").exit_code == 0  # type: ignore[attr-defined]
    db = tmp_path / "agent.db"
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the first page's b-tree, past the header
    db.write_bytes(bytes(data))
    for name in ("agent.db-wal", "agent.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    result = run(config, "check", "--offline")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    out = result.output  # type: ignore[attr-defined]
    assert "is damaged" in out and "move it aside" in out and "SELECT" not in out
    shutil.move(db, tmp_path / "agent.db.broken")
    assert run(config, "check", "--offline").exit_code == 0  # type: ignore[attr-defined]


def test_config_typos_get_did_you_mean(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from agent.config.settings import load_config

    path = tmp_path / "config.toml"
    path.write_text(
        '[me]\nemails = ["ana@example.org"]\nlangauge = "de"\n\n[digset]\nto = "a@b.org"\n'
    )
    config = load_config(str(path))
    messages = [r.getMessage() for r in caplog.records]
    assert any("'langauge' ignored (did you mean 'language'?)" in m for m in messages)
    assert any("'digset' ignored (did you mean [digest]?)" in m for m in messages)
    assert config.me.language == "en"


def test_the_demo_hint_is_a_command_that_works_as_printed() -> None:
    from agent.demo import agent_command

    command = agent_command()
    assert shutil.which(command[0]) or Path(command[0]).is_file()


def _sample(tmp_path: Path) -> Path:
    from agent.sample import write_sample

    config = write_sample(tmp_path / "sample")
    with config.open("a") as fh:
        fh.write('\n[digest]\nto = "ana@example.org"\n\n[smtp]\nhost = "127.0.0.1"\n'
                 'port = 9\nsecurity = "none"\n')  # fmt: skip
    return config


def test_sync_prints_json_for_scripts(tmp_path: Path) -> None:
    import json

    config = _sample(tmp_path)
    result = run(config, "sync", "--format", "json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    rows = json.loads(result.output)  # type: ignore[attr-defined]
    assert {r["source"] for r in rows} and all(r["ok"] for r in rows)
    assert sum(r["new"] for r in rows) > 0


def test_digest_send_dry_run_prints_the_mail_and_sends_nothing(tmp_path: Path) -> None:
    config = _sample(tmp_path)
    assert run(config, "sync").exit_code == 0  # type: ignore[attr-defined]
    result = run(config, "digest", "--send", "--dry-run", "--as-of", "2026-11-20")
    out = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 0, out  # type: ignore[attr-defined]
    assert "Auto-Submitted: auto-generated" in out and "multipart/alternative" in out
    import json

    status = json.loads(run(config, "status", "--format", "json").output)  # type: ignore[attr-defined]
    assert status["digest"]["last"] is None  # nothing recorded as sent
    assert run(config, "digest", "--dry-run").exit_code == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_the_people_table_fits_the_terminal_with_wide_and_combining_names(columns: int) -> None:
    from agent.cli.textwidth import width
    from agent.cli.views import people_table
    from agent.core.person import Person, PersonReport

    names = ["山田太郎", "Zoë Ådahl", "Zoe\u0301 Combining", "🎉 Party Planner 🎉",
             "A Very Long Name That Goes On And On Beyond Any Column"]  # fmt: skip
    stats = {"emails_sent": 1, "emails_received": 2, "last_contact": "2026-11-01",
             "silence_days": 19}  # fmt: skip
    reports = [PersonReport(Person(n, name, (f"p{n}@an-example-domain.example",)), stats)
               for n, name in enumerate(names)]  # fmt: skip
    lines = people_table(reports, columns).splitlines()
    assert all(width(line) <= columns for line in lines)
    # Every row's third column starts at the same screen column as the header's.
    starts = {width(line[: line.index("p")]) for line in lines[1:]}
    assert len(starts) == 1
    assert any("…" in line for line in lines)  # the long name is cut with an ellipsis


def test_a_second_sync_waits_briefly_then_names_who_holds_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from agent.cli.commands import sync as sync_command
    from agent.runtime import lock
    from agent.store.database import Store

    config = _sample(tmp_path)
    db = next(line for line in config.read_text().splitlines() if line.startswith("url"))
    store = Store.open(db.split('"')[1])
    held = lock.acquire(store.engine)  # a daemon, or another sync, holds the database
    try:
        monkeypatch.setattr(sync_command, "LOCK_WAIT_SECONDS", 0.3)
        result = run(config, "sync")
        assert result.exit_code == 1  # type: ignore[attr-defined]
        out = result.output  # type: ignore[attr-defined]
        assert "another agent is syncing this database" in out and str(os.getpid()) in out
    finally:
        held.release()
        store.close()
    assert run(config, "sync").exit_code == 0  # type: ignore[attr-defined]


def test_person_and_rules_list_wrap_to_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.cli.textwidth import width

    config = _sample(tmp_path)
    assert run(config, "sync").exit_code == 0  # type: ignore[attr-defined]
    monkeypatch.setenv("COLUMNS", "80")
    for args in (["person", "Carla", "--as-of", "2026-11-20"], ["rules", "list"],
                 ["people", "--as-of", "2026-11-20"]):  # fmt: skip
        out = run(config, *args).output  # type: ignore[attr-defined]
        assert max(width(line) for line in out.splitlines()) <= 80, args


def test_people_sort_limit_and_headers_in_the_users_language(tmp_path: Path) -> None:
    import json

    from agent.sample import write_sample

    config = write_sample(tmp_path / "de", language="de")
    assert run(config, "sync").exit_code == 0  # type: ignore[attr-defined]
    table = run(config, "people", "--as-of", "2026-11-20", "--sort", "silent", "--limit", "3")
    lines = table.output.splitlines()  # type: ignore[attr-defined]
    assert lines[0].split()[:3] == ["ID", "Name", "E-Mail"] and len(lines) == 4
    rows = json.loads(run(config, "people", "--as-of", "2026-11-20", "--format", "json",
                          "--sort", "silent").output)  # type: ignore[attr-defined]  # fmt: skip
    silences = [r["stats"]["silence_days"] for r in rows if r["stats"]["silence_days"] is not None]
    assert silences == sorted(silences, reverse=True) and rows[0]["person"]["name"] == "Carla Diaz"


def test_check_prints_json_for_scripts(tmp_path: Path) -> None:
    import json

    config = _sample(tmp_path)
    result = run(config, "check", "--offline", "--format", "json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    data = json.loads(result.output)  # type: ignore[attr-defined]
    assert data["config"]["ok"] and data["rules"]["ok"] and data["database"]["exists"] is False
    assert [s["ok"] for s in data["sources"]] == [True] * len(data["sources"])


def test_a_config_without_a_mail_account_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[me]\nemails = ["ana@example.org"]\ntimezone = "UTC"\n\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/agent.db"\n\n'
        f'[[calendars]]\nname = "cal"\ntype = "ics"\nurl = "{tmp_path}/cal.ics"\n'
    )
    for command in (["check", "--offline"], ["sync"]):
        result = run(config, *command)
        assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
        assert "no mail account" in result.output  # type: ignore[attr-defined]
    assert not (tmp_path / "agent.db").exists()


def test_a_postgresql_url_without_its_driver_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import builtins

    from agent.errors import UserError
    from agent.store.database import Store

    real_import = builtins.__import__

    def no_psycopg(name: str, *args: object, **kwargs: object) -> object:
        if name == "psycopg" or name.startswith("psycopg."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(UserError, match=r"pip install 'relationship-agent\[postgres\]'"):
        Store.open("postgresql://agent@db.example.org/agent")


def test_read_only_commands_work_on_a_database_this_user_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.sample import write_sample

    config = write_sample(tmp_path)
    assert run(config, "sync").exit_code == 0  # type: ignore[attr-defined]
    db = tmp_path / "agent.db"
    for name in ("agent.db-wal", "agent.db-shm"):
        assert not (tmp_path / name).exists()  # the sync closed cleanly
    before = db.read_bytes()
    # As another user would see it (tests run as root, whom permissions do not stop):
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode)
    )
    for command in (
        ["people", "--as-of", "2026-11-20"], ["person", "1", "--as-of", "2026-11-20"],
        ["digest", "--as-of", "2026-11-20"], ["status"], ["check", "--offline"],
    ):  # fmt: skip
        result = run(config, *command)
        assert result.exit_code == 0, (command, result.output)  # type: ignore[attr-defined]
        assert not (tmp_path / "agent.db-wal").exists(), command
    result = run(config, "sync")
    assert result.exit_code == 1 and "may only read it" in result.output  # type: ignore[attr-defined]
    assert db.read_bytes() == before
    assert not (tmp_path / "agent.db-shm").exists()


def test_colour_only_where_asked_for_and_never_in_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.sample import write_sample

    config = write_sample(tmp_path)
    runner = CliRunner()

    def check(*options: str) -> str:
        args = ["--config", str(config), *options, "check", "--offline"]
        return runner.invoke(main, args).output

    assert "\x1b[32mok\x1b[0m" in check("--color", "always")
    assert "\x1b[" not in check("--color", "never")
    assert "\x1b[" not in check()  # auto, and not a terminal
    json_out = runner.invoke(
        main,
        ["--config", str(config), "--color", "always", "check", "--offline", "--format", "json"],
    ).output
    assert "\x1b[" not in json_out
    monkeypatch.setenv("NO_COLOR", "1")
    from agent.cli.colour import decide

    assert decide("auto") is False and decide("always") is True
