"""The unit files in systemd/: the directives the daemon relies on, checked against the code
that reads their environment (config and database paths, credentials), and `systemd-analyze
verify` when systemd's tools are installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import paths, secrets
from agent.config.settings import find_config_path, load_config
from agent.runtime.notify import watchdog_interval

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "systemd"
SYSTEM = ["agent.service", "agent-sync.service", "agent-sync.timer", "agent-digest.service",
          "agent-digest.timer"]  # fmt: skip
USER = "user/agent.service"
# What systemd substitutes for the specifiers the units use (system manager).
SYSTEM_SPECIFIERS = {"%E": "/etc", "%S": "/var/lib", "%C": "/var/cache"}


class Unit:
    """A unit file as systemd reads it: sections of (key, value) in order, keys may repeat."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sections: dict[str, list[tuple[str, str]]] = {}
        section = None
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                self.sections.setdefault(section, [])
                continue
            assert section is not None and "=" in line, f"{path}:{number}: {raw!r}"
            assert not line.endswith("\\"), f"{path}:{number}: keep directives on one line"
            key, _, value = line.partition("=")
            self.sections[section].append((key.strip(), value.strip()))

    def all(self, key: str, section: str = "Service") -> list[str]:
        return [v for k, v in self.sections.get(section, []) if k == key]

    def get(self, key: str, section: str = "Service") -> str | None:
        found = self.all(key, section)
        return found[-1] if found else None

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for line in self.all("Environment"):
            for item in line.split():
                name, _, value = item.partition("=")
                env[name] = value
        return env

    def credentials(self) -> dict[str, str]:
        """LoadCredential= IDs and their source paths."""
        return dict(v.split(":", 1) for v in self.all("LoadCredential") if v)


def unit(name: str) -> Unit:
    return Unit(UNITS / name)


def seconds(value: str) -> float:
    """A systemd time span as used here: "30s", "5min", "2h", "1min 30s"."""
    factors = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    total = 0.0
    for number, suffix in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * factors[suffix or "s"]
    return total


def expand(value: str, specifiers: dict[str, str]) -> str:
    for spec, replacement in specifiers.items():
        value = value.replace(spec, replacement)
    return value


# -- the daemon units ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["agent.service", USER])
def test_daemon_units_are_type_notify_with_watchdog_and_restart(name: str) -> None:
    u = unit(name)
    assert u.get("Type") == "notify"
    exec_start = (u.get("ExecStart") or "").split()
    assert Path(exec_start[0]).name == "agent" and exec_start[1:] == ["run"]
    assert u.get("Restart") == "on-failure"
    assert u.get("RestartPreventExitStatus") == "2"  # a bad config is not fixed by restarting
    watchdog = seconds(u.get("WatchdogSec") or "0")
    assert watchdog >= 60
    # The daemon pings every half of $WATCHDOG_USEC, which systemd derives from WatchdogSec.
    assert watchdog_interval({"WATCHDOG_USEC": str(int(watchdog * 1e6))}) == watchdog / 2
    assert seconds(u.get("TimeoutStopSec") or "90s") >= 10  # SIGTERM exits within seconds
    assert u.get("SyslogIdentifier") == "agent"
    assert u.all("WantedBy", "Install")


def test_system_unit_directories_environment_and_user() -> None:
    u = unit("agent.service")
    assert u.get("StateDirectory") == "agent"
    assert u.get("ConfigurationDirectory") == "agent"
    assert u.get("User") == "agent"
    sysusers = (UNITS / "agent.sysusers").read_text()
    assert re.search(r"^u agent - .* /var/lib/agent$", sysusers, re.M)
    assert u.environment()["AGENT_CONFIG"] == "%E/agent/config.toml"
    assert "network-online.target" in (u.get("After", "Unit") or "")


def test_system_unit_is_hardened() -> None:
    u = unit("agent.service")
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictNamespaces": "yes",
        "RestrictRealtime": "yes",
        "LockPersonality": "yes",
        "SystemCallArchitectures": "native",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }
    assert {k: u.get(k) for k in expected} == expected
    assert "@system-service" in u.all("SystemCallFilter")


def test_system_unit_paths_are_the_ones_the_agent_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the unit the agent reads /etc/agent/config.toml and keeps its database in the
    StateDirectory, with nothing in the config saying so."""
    u = unit("agent.service")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "AGENT_CONFIG", "STATE_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)
    for name, value in u.environment().items():
        monkeypatch.setenv(name, expand(value, SYSTEM_SPECIFIERS))
    # What StateDirectory=agent makes systemd export.
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/" + (u.get("StateDirectory") or ""))
    assert find_config_path(None) == Path("/etc/agent/config.toml")
    assert paths.default_database_url() == "sqlite:////var/lib/agent/agent.db"
    assert paths.config_home() == Path("/etc/agent")


def test_user_unit_shares_config_and_database_with_the_shell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    u = unit(USER)
    # $STATE_DIRECTORY would move the database away from the one `agent status` reads.
    assert u.get("StateDirectory") is None
    assert u.get("User") is None
    env = u.environment()
    assert not {"STATE_DIRECTORY", "XDG_DATA_HOME", "XDG_CONFIG_HOME"} & set(env)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    shell_db = paths.default_database_url()
    # In a user manager %E is $XDG_CONFIG_HOME.
    monkeypatch.setenv(
        "AGENT_CONFIG", expand(env["AGENT_CONFIG"], {"%E": str(tmp_path / "config")})
    )
    assert find_config_path(None) == tmp_path / "config" / "agent" / "config.toml"
    assert paths.default_database_url() == shell_db
    assert "%h/.local/share/agent/venv/bin/agent" in (u.get("ExecStart") or "")


# -- credentials ----------------------------------------------------------------------------

CONFIG = """
[me]
name = "Ana"
emails = ["ana@example.org"]
timezone = "UTC"

[database]
url = "sqlite:////var/lib/agent/agent.db"

[[accounts]]
name = "work"
type = "imap"
host = "imap.example.org"
username = "ana@example.org"
password_credential = "imap-work"

[digest]
to = "ana@example.org"

[smtp]
host = "smtp.example.org"
username = "ana@example.org"
password_credential = "smtp"
"""


@pytest.mark.parametrize("name", ["agent.service", "agent-sync.service", "agent-digest.service"])
def test_credentials_the_unit_loads_are_what_password_credential_reads(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = unit(name).credentials()
    assert loaded == {
        "imap-work": "/etc/agent/credentials/imap-work",
        "smtp": "/etc/agent/credentials/smtp",
    }
    config_file = tmp_path / "config.toml"
    config_file.write_text(CONFIG)
    config = load_config(str(config_file))
    specs = [config.accounts[0].secret, config.smtp.secret]  # type: ignore[union-attr]
    assert [(s.kind, s.value) for s in specs if s] == [
        ("credential", "imap-work"),
        ("credential", "smtp"),
    ]
    # What systemd does at start: a copy of each source in $CREDENTIALS_DIRECTORY/<ID>.
    creds = tmp_path / "credentials"
    creds.mkdir()
    for cred_id in loaded:
        (creds / cred_id).write_text(f"secret of {cred_id}\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert [secrets.resolve(s) for s in specs if s] == ["secret of imap-work", "secret of smtp"]


def test_config_example_names_the_same_credential() -> None:
    example = (ROOT / "config.example.toml").read_text()
    assert 'password_credential = "imap-work"' in example
    assert "imap-work" in unit("agent.service").credentials()


# -- the timer-based alternative --------------------------------------------------------------


@pytest.mark.parametrize(
    ("timer", "command"),
    [
        ("agent-sync.timer", ["agent", "sync"]),
        ("agent-digest.timer", ["agent", "digest", "--send"]),
    ],
)
def test_timers_are_persistent_and_run_their_command(timer: str, command: list[str]) -> None:
    t = unit(timer)
    assert t.get("Persistent", "Timer") == "true"
    assert t.get("OnCalendar", "Timer")
    assert t.all("WantedBy", "Install") == ["timers.target"]
    service = unit(timer.replace(".timer", ".service"))
    assert service.get("Type") == "oneshot"
    exec_start = (service.get("ExecStart") or "").split()
    assert Path(exec_start[0]).name == command[0] and exec_start[1:] == command[1:]
    daemon = unit("agent.service")
    # Same user, directories, environment and sandbox as the daemon.
    for key in ("User", "StateDirectory", "ConfigurationDirectory", "ProtectSystem",
                "ProtectHome", "NoNewPrivileges", "RestrictAddressFamilies",
                "CapabilityBoundingSet"):  # fmt: skip
        assert service.get(key) == daemon.get(key), key
    assert service.environment() == daemon.environment()
    assert service.all("SystemCallFilter") == daemon.all("SystemCallFilter")


def test_readme_links_and_covers_every_file() -> None:
    assert "[systemd/README.md](systemd/README.md)" in (ROOT / "README.md").read_text()
    text = (UNITS / "README.md").read_text()
    for name in [*SYSTEM, USER, "agent.sysusers"]:
        assert f"`{name.split('/')[-1]}`" in text or name in text, name
    for topic in ("LoadCredential", "systemd-creds", "journalctl", "agent status"):
        assert topic in text


# -- systemd's own checks --------------------------------------------------------------------

ANALYZE = shutil.which("systemd-analyze")


def _runnable_copy(names: list[str], dest: Path) -> list[Path]:
    """Copies whose ExecStart points at an agent that exists here: verify checks that."""
    agent = Path(sys.executable).parent / "agent"
    binary = str(agent if agent.exists() else Path(sys.executable))
    dest.mkdir(parents=True, exist_ok=True)
    copies = []
    for name in names:
        text = (UNITS / name).read_text()
        text = re.sub(r"(?<![\w/])(?:/opt/agent/bin|%h/\.local/share/agent/venv/bin)/agent",
                      binary, text)  # fmt: skip
        copy = dest / Path(name).name
        copy.write_text(text)
        copies.append(copy)
    return copies


def _analyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run(
        [ANALYZE, *args], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def _complaints(done: subprocess.CompletedProcess[str], copies: list[Path]) -> list[str]:
    # verify exits 0 on unknown keys and bad values: its messages name the unit, so any line
    # that does is a problem.
    names = [c.name for c in copies]
    output = (done.stdout + done.stderr).splitlines()
    return [line for line in output if any(name in line for name in names)]


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_system_units(tmp_path: Path) -> None:
    copies = _runnable_copy(SYSTEM, tmp_path / "system")
    done = _analyze("verify", *map(str, copies))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _complaints(done, copies) == []


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_user_unit(tmp_path: Path) -> None:
    copies = _runnable_copy([USER], tmp_path / "user")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    done = _analyze("--user", "verify", str(copies[0]), env={"XDG_RUNTIME_DIR": str(runtime)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert _complaints(done, copies) == []


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", ["agent.service", "agent-sync.service", "agent-digest.service"])
def test_systemd_analyze_security_rates_the_system_units_ok(name: str, tmp_path: Path) -> None:
    copies = _runnable_copy([name], tmp_path)
    done = _analyze("security", "--offline=true", str(copies[0]))
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout)
    if found is None:  # older systemd without --offline
        pytest.skip(f"systemd-analyze security --offline unsupported: {done.stderr.strip()}")
    assert float(found.group(1)) <= 2.0, done.stdout
