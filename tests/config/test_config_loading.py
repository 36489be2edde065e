"""Loading from TOML, the environment and overrides, and their precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import (
    BackendSettings,
    load_agent_settings,
    load_console_settings,
    load_relay_settings,
)

AGENT_ENV = {"LLMCLUSTER_AGENT_RELAY_URL": "https://relay.test", "LLMCLUSTER_AGENT_TOKEN": "t"}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_relay_toml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "relay.toml",
        """
host = "0.0.0.0"
port = 9000
log_level = "DEBUG"
heartbeat_timeout_s = 20          # an integer is fine for a float
admin_allowed_origins = ["https://admin.test"]
database_url = "postgresql://u:p@db/llm"
certfile = "tls/cert.pem"
keyfile = "/abs/key.pem"
""",
    )
    s = load_relay_settings(path, env={})
    assert (s.host, s.port, s.log_level) == ("0.0.0.0", 9000, "debug")
    assert s.heartbeat_timeout_s == 20.0 and isinstance(s.heartbeat_timeout_s, float)
    assert s.admin_allowed_origins == ["https://admin.test"]
    assert s.effective_database_url() == "postgresql://u:p@db/llm"
    assert s.certfile == tmp_path / "tls" / "cert.pem"  # relative to the file's folder
    assert s.keyfile == Path("/abs/key.pem")
    assert s.tls_enabled


def test_agent_toml_with_backends(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "agent.toml",
        """
relay_url = "https://relay.test"
token = "node-token"
name = "rig-1"
scan = false
scan_ports = [1234]

[[backends]]
url = "http://127.0.0.1:11434"
kind = "ollama"

[[backends]]
url = "http://127.0.0.1:8000"
api_key = "sk-x"
""",
    )
    s = load_agent_settings(path, env={})
    assert (s.relay_url, s.token, s.name, s.scan, s.scan_ports) == (
        "https://relay.test",
        "node-token",
        "rig-1",
        False,
        [1234],
    )
    assert s.backends == [
        BackendSettings(url="http://127.0.0.1:11434", kind="ollama"),
        BackendSettings(url="http://127.0.0.1:8000", api_key="sk-x", kind="auto"),
    ]


def test_precedence_defaults_file_env_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "relay.toml", 'port = 9000\nhost = "10.0.0.1"\nworkers = 2\n')
    env = {"LLMCLUSTER_RELAY_PORT": "9100", "LLMCLUSTER_RELAY_HOST": "10.0.0.2"}
    s = load_relay_settings(path, env=env, overrides={"port": 9200, "workers": None})
    assert s.port == 9200  # override beats environment and file
    assert s.host == "10.0.0.2"  # environment beats file
    assert s.workers == 2  # file beats default; a None override is ignored
    assert s.log_level == "info"  # default


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMCLUSTER_RELAY_PORT", "7000")
    assert load_relay_settings().port == 7000


def test_env_values_are_parsed() -> None:
    env = {
        **AGENT_ENV,
        "LLMCLUSTER_AGENT_SCAN": "off",
        "LLMCLUSTER_AGENT_INSECURE": "YES",
        "LLMCLUSTER_AGENT_SCAN_PORTS": "1234, 8080",
        "LLMCLUSTER_AGENT_MAX_CONCURRENCY": " 3 ",
        "LLMCLUSTER_AGENT_SCAN_INTERVAL_S": "2.5",
        "LLMCLUSTER_AGENT_CA_BUNDLE": "/etc/ca.pem",
        "LLMCLUSTER_AGENT_BACKENDS": "http://a:1,http://b:2",
        "LLMCLUSTER_AGENT_UNRELATED": "ignored",
    }
    s = load_agent_settings(env=env)
    assert (s.scan, s.insecure, s.scan_ports) == (False, True, [1234, 8080])
    assert (s.max_concurrency, s.scan_interval_s) == (3, 2.5)
    assert s.ca_bundle == Path("/etc/ca.pem")
    assert [b.url for b in s.backends] == ["http://a:1", "http://b:2"]


def test_empty_env_value_unsets_optional(tmp_path: Path) -> None:
    path = write(tmp_path, "relay.toml", 'redis_url = "redis://cache:6379/0"\n')
    assert load_relay_settings(path, env={}).redis_url == "redis://cache:6379/0"
    assert load_relay_settings(path, env={"LLMCLUSTER_RELAY_REDIS_URL": ""}).redis_url is None


def test_data_dir_default_follows_env_and_database_url(tmp_path: Path) -> None:
    s = load_relay_settings(env={"LLMCLUSTER_RELAY_DATA_DIR": str(tmp_path)})
    assert s.effective_database_url() == f"sqlite:///{tmp_path}/relay.db"


def test_overrides_accept_text_typed_values_and_dashes() -> None:
    s = load_relay_settings(
        env={}, overrides={"port": "8443", "data-dir": Path("/d"), "log_level": "warning"}
    )
    assert (s.port, s.data_dir, s.log_level) == (8443, Path("/d"), "warning")


def test_agent_token_from_env_and_override(tmp_path: Path) -> None:
    path = write(tmp_path, "agent.toml", 'relay_url = "http://r"\ntoken = "from-file"\n')
    assert load_agent_settings(path, env={}).token == "from-file"
    env = {"LLMCLUSTER_AGENT_TOKEN": "from-env"}
    assert load_agent_settings(path, env=env).token == "from-env"
    assert load_agent_settings(path, env=env, overrides={"token": "cli"}).token == "cli"


def test_console_admin_token_alias(tmp_path: Path) -> None:
    assert load_console_settings(env={"LLMCLUSTER_ADMIN_TOKEN": "adm"}).token == "adm"
    both = {"LLMCLUSTER_ADMIN_TOKEN": "adm", "LLMCLUSTER_CONSOLE_TOKEN": "con"}
    assert load_console_settings(env=both).token == "con"
    path = write(tmp_path, "console.toml", 'token = "file"\nrefresh_interval_s = 0.5\n')
    s = load_console_settings(path, env={"LLMCLUSTER_ADMIN_TOKEN": "adm"})
    assert (s.token, s.refresh_interval_s) == ("adm", 0.5)


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "console.toml", "# nothing here\n")
    assert load_console_settings(path, env={}) == load_console_settings(env={})


def test_backend_overrides_may_be_plain_urls() -> None:
    s = load_agent_settings(
        env=AGENT_ENV,
        overrides={"backends": ["http://a:1", {"url": "http://b:2", "kind": "vllm"}]},
    )
    assert s.backends == [
        BackendSettings(url="http://a:1"),
        BackendSettings(url="http://b:2", kind="vllm"),
    ]
