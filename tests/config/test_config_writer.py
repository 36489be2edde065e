"""write_agent_config: commented TOML that loads back to the same settings, mode 0600."""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest

from config import (
    AgentSettings,
    BackendSettings,
    ConfigError,
    load_agent_settings,
    write_agent_config,
)

needs_posix_modes = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip_of_every_kind_of_value(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "agent.toml"
    given = {
        "relay_url": "https://relay.test:8443",
        "token": 'tok "quoted" \\ back\tslash é',
        "name": "rig\x01-ünï",
        "backends": [
            {"url": "http://127.0.0.1:11434", "kind": "ollama"},
            BackendSettings(url="http://127.0.0.1:8000", api_key="sk-1", kind="vllm"),
        ],
        "scan_ports": [1234, 5000],
        "scan": False,
        "scan_interval_s": 12.5,
        "max_concurrency": 2,
        "insecure": True,
        "ca_bundle": tmp_path / "ca.pem",
        "allowed_routes": ["/v1/models"],
    }
    written = write_agent_config(path, given)
    loaded = load_agent_settings(path, env={})
    assert loaded == written
    assert loaded.token == given["token"]
    assert loaded.name == given["name"]
    assert loaded.backends[1].api_key == "sk-1"
    assert loaded.ca_bundle == tmp_path / "ca.pem"


@needs_posix_modes
def test_file_is_private_and_parents_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "agent.toml"
    write_agent_config(path, {"relay_url": "http://r", "token": "t"})
    assert mode(path) == 0o600
    assert path.parent.is_dir()
    assert [p.name for p in path.parent.iterdir()] == ["agent.toml"]  # no temp file left


@needs_posix_modes
def test_overwriting_a_world_readable_file_makes_it_private(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text("old", encoding="utf-8")
    os.chmod(path, 0o644)
    write_agent_config(path, {"relay_url": "http://r", "token": "t"})
    assert mode(path) == 0o600
    assert load_agent_settings(path, env={}).token == "t"


def test_file_is_commented_and_unset_keys_stay_defaults(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    write_agent_config(path, {"relay_url": "http://r", "token": "t", "max_concurrency": "3"})
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ")
    assert "max_concurrency = 3\n" in text
    assert "# scan_interval_s = 30.0\n" in text
    assert "# [[backends]]" in text
    data = tomllib.loads(text)
    assert set(data) == {"relay_url", "token", "max_concurrency"}
    assert load_agent_settings(path, env={}).scan_interval_s == 30.0


def test_settings_instance_round_trips(tmp_path: Path) -> None:
    settings = AgentSettings(
        relay_url="https://r.test",
        token="t",
        backends=[BackendSettings(url="http://b:1")],
        drain_timeout_s=0.0,
    )
    path = tmp_path / "agent.toml"
    assert write_agent_config(path, settings) == settings
    assert load_agent_settings(path, env={}) == settings


def test_invalid_settings_are_not_written(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    with pytest.raises(ConfigError) as info:
        write_agent_config(path, {"relay_url": "relay.test", "token": "sekrit-123"})
    assert info.value.key == "relay_url"
    assert "sekrit-123" not in str(info.value)
    assert not path.exists()
    with pytest.raises(ConfigError) as info:
        write_agent_config(path, {"relay_url": "http://r", "token": "t", "scan_port": [1]})
    assert "did you mean 'scan_ports'" in str(info.value)
    assert not path.exists()
