"""Typed settings for the relay, agent and console, loaded from TOML and the environment.

Typical use::

    from config import load_relay_settings
    settings = load_relay_settings(Path("relay.toml"), overrides={"port": args.port})

See :mod:`config.loader` for precedence rules and ``config/*.example.toml`` for every key.
"""

from __future__ import annotations

from config.errors import ConfigError
from config.loader import (
    env_var_name,
    load_agent_settings,
    load_console_settings,
    load_relay_settings,
    read_toml,
)
from config.paths import (
    default_agent_config_path,
    default_config_dir,
    default_config_path,
    default_data_dir,
)
from config.settings import (
    DEFAULT_SCAN_PORTS,
    AgentSettings,
    BackendKind,
    BackendSettings,
    ConsoleSettings,
    LogLevel,
    RelaySettings,
    SchedulerSettings,
)
from config.writer import render_agent_toml, write_agent_config

__all__ = [
    "DEFAULT_SCAN_PORTS",
    "AgentSettings",
    "BackendKind",
    "BackendSettings",
    "ConfigError",
    "ConsoleSettings",
    "LogLevel",
    "RelaySettings",
    "SchedulerSettings",
    "default_agent_config_path",
    "default_config_dir",
    "default_config_path",
    "default_data_dir",
    "env_var_name",
    "load_agent_settings",
    "load_console_settings",
    "load_relay_settings",
    "read_toml",
    "render_agent_toml",
    "write_agent_config",
]
