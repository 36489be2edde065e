"""Where LLM Cluster keeps its files by default, following the XDG base-directory rules.

Data (the relay's database) goes under ``$XDG_DATA_HOME/llmcluster`` (else
``~/.local/share/llmcluster``), configuration under ``$XDG_CONFIG_HOME/llmcluster`` (else
``~/.config/llmcluster``). Per the XDG spec, a relative ``XDG_*`` value is ignored.
Functions take an optional ``env`` mapping (default ``os.environ``) so tests can steer them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP_DIR = "llmcluster"


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def _xdg(env: Mapping[str, str] | None, var: str, fallback: str) -> Path:
    env = os.environ if env is None else env
    value = env.get(var, "")
    base = Path(value) if value and Path(value).is_absolute() else _home(env) / fallback
    return base / APP_DIR


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The relay's default data folder: ``$XDG_DATA_HOME/llmcluster``."""
    return _xdg(env, "XDG_DATA_HOME", ".local/share")


def default_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder of the per-user config files: ``$XDG_CONFIG_HOME/llmcluster``."""
    return _xdg(env, "XDG_CONFIG_HOME", ".config")


def default_config_path(program: str, env: Mapping[str, str] | None = None) -> Path:
    """The default config file of ``program`` (``relay``, ``agent`` or ``console``)."""
    return default_config_dir(env) / f"{program}.toml"


def default_agent_config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where ``llmcluster-agent`` looks for (and writes) its config: ``.../agent.toml``."""
    return default_config_path("agent", env)
