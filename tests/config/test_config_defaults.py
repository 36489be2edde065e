"""Defaults of the settings classes and the default paths."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from config import (
    AgentSettings,
    BackendSettings,
    ConfigError,
    ConsoleSettings,
    RelaySettings,
    default_agent_config_path,
    default_data_dir,
    load_agent_settings,
    load_console_settings,
    load_relay_settings,
)

MIB = 1024 * 1024


def test_relay_defaults(tmp_path: Path) -> None:
    s = load_relay_settings(env={"XDG_DATA_HOME": str(tmp_path)})
    assert s.host == "127.0.0.1"
    assert s.port == 8080
    assert s.data_dir == tmp_path / "llmcluster"
    assert s.database_url is None
    assert s.effective_database_url() == f"sqlite:///{tmp_path}/llmcluster/relay.db"
    assert s.certfile is None and s.keyfile is None and not s.tls_enabled
    assert s.public_url is None
    assert s.log_level == "info"
    assert s.heartbeat_timeout_s == 15.0
    assert s.max_message_bytes == 16 * MIB
    assert s.stream_window_bytes == MIB
    assert s.request_timeout_s == 600.0
    assert s.first_byte_timeout_s == 120.0
    assert s.node_jwt_ttl_s == 300
    assert s.admin_allowed_origins == []
    assert s.redis_url is None
    assert s.workers == 1


def test_relay_database_url_wins_over_default() -> None:
    s = RelaySettings(database_url="postgresql://db/llm")
    assert s.effective_database_url() == "postgresql://db/llm"


def test_agent_defaults() -> None:
    s = load_agent_settings(
        env={"LLMCLUSTER_AGENT_RELAY_URL": "https://r.example", "LLMCLUSTER_AGENT_TOKEN": "t"}
    )
    assert s.name == socket.gethostname()
    assert s.backends == []
    assert s.scan_ports == [1234, 11434, 8080, 8000, 30000, 5001, 5000, 1337]
    assert s.scan is True
    assert s.scan_interval_s == 30.0
    assert s.max_concurrency == 8
    assert s.heartbeat_interval_s == 5.0
    assert s.drain_timeout_s == 30.0
    assert s.gpu_sample_interval_s == 2.0
    assert s.insecure is False
    assert s.ca_bundle is None
    assert s.allowed_routes == [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
    ]


def test_agent_list_defaults_are_not_shared() -> None:
    a = AgentSettings(relay_url="http://r", token="t")
    b = AgentSettings(relay_url="http://r", token="t")
    a.scan_ports.append(1)
    assert 1 not in b.scan_ports


def test_backend_and_console_defaults() -> None:
    assert BackendSettings(url="http://x").kind == "auto"
    assert BackendSettings(url="http://x").api_key is None
    assert load_console_settings(env={}) == ConsoleSettings()
    c = ConsoleSettings()
    assert (c.relay_url, c.token, c.refresh_interval_s) == ("http://127.0.0.1:8080", None, 1.0)


def test_settings_are_frozen() -> None:
    s = RelaySettings()
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


def test_secrets_stay_out_of_repr() -> None:
    agent = AgentSettings(
        relay_url="http://r",
        token="node-secret-1",
        backends=[BackendSettings(url="http://b", api_key="sk-secret-2")],
    )
    assert "node-secret-1" not in repr(agent)
    assert "sk-secret-2" not in repr(agent)
    assert "admin-secret-3" not in repr(ConsoleSettings(token="admin-secret-3"))


def test_direct_construction_checks_tls_pair() -> None:
    with pytest.raises(ConfigError) as info:
        RelaySettings(keyfile=Path("k.pem"))
    assert info.value.key == "keyfile"
    assert RelaySettings(certfile=Path("c"), keyfile=Path("k")).tls_enabled


def test_default_paths_follow_xdg(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_DATA_HOME": str(tmp_path / "data")}
    assert default_agent_config_path(env) == tmp_path / "cfg" / "llmcluster" / "agent.toml"
    assert default_data_dir(env) == tmp_path / "data" / "llmcluster"


def test_default_paths_fall_back_to_home(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": "relative/ignored"}
    assert default_agent_config_path(env) == tmp_path / ".config" / "llmcluster" / "agent.toml"
    assert default_data_dir(env) == tmp_path / ".local" / "share" / "llmcluster"


def test_default_agent_config_path_uses_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/srv/conf")
    assert default_agent_config_path() == Path("/srv/conf/llmcluster/agent.toml")
