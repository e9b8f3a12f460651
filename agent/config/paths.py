"""XDG locations for config and data, resolved from the environment at call time."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_home() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "agent"


def data_home() -> Path:
    # Under systemd with StateDirectory=agent, $STATE_DIRECTORY is where we may write.
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    return _xdg("XDG_DATA_HOME", ".local/share") / "agent"


def default_config_path() -> Path:
    return config_home() / "config.toml"


def default_database_url() -> str:
    return f"sqlite:///{data_home() / 'agent.db'}"
