"""Every kind of configuration error names its source and key, and never leaks a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_agent_settings, load_console_settings, load_relay_settings

SECRET = "tok-9f8e7d6c5b4a"
REQUIRED = {"relay_url": "https://relay.test", "token": "t"}
AGENT_HEAD = f'relay_url = "https://relay.test"\ntoken = "{SECRET}"\n'


def relay_error(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "relay.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_relay_settings(path, env={})
    assert info.value.file == str(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)
    return info.value


def agent_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    path = tmp_path / "agent.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_agent_settings(path, env=env or {})
    assert "\n" not in str(info.value)
    return info.value


def test_bad_type_message(tmp_path: Path) -> None:
    err = relay_error(tmp_path, 'port = "abc"\n')
    assert (err.key, err.expected, err.got) == ("port", "an integer 1-65535", "'abc'")
    assert (
        str(err) == f"{tmp_path / 'relay.toml'}: key 'port': expected an integer 1-65535, got 'abc'"
    )


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("port = true\n", "port", "an integer 1-65535"),
        ("port = 80.5\n", "port", "an integer 1-65535"),
        ('host = ["a"]\n', "host", "a non-empty string"),
        ("admin_allowed_origins = 'https://a'\n", "admin_allowed_origins", "an array of"),
        ("admin_allowed_origins = ['ok', 3]\n", "admin_allowed_origins[1]", "non-empty string"),
        ("data_dir = 5\n", "data_dir", "a path"),
        ('public_url = "relay.test"\n', "public_url", "http:// or https://"),
        ('redis_url = "http://cache"\n', "redis_url", "redis://"),
    ],
)
def test_bad_types(tmp_path: Path, text: str, key: str, expected: str) -> None:
    err = relay_error(tmp_path, text)
    assert err.key == key
    assert expected in err.expected
    assert f"key '{key}'" in str(err)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("port = 70000\n", "port", "an integer 1-65535"),
        ("port = 0\n", "port", "an integer 1-65535"),
        ("heartbeat_timeout_s = 0\n", "heartbeat_timeout_s", "a number > 0"),
        ("workers = 0\n", "workers", "an integer >= 1"),
        ("stream_window_bytes = 10\n", "stream_window_bytes", "an integer >= 1024"),
    ],
)
def test_out_of_range(tmp_path: Path, text: str, key: str, expected: str) -> None:
    err = relay_error(tmp_path, text)
    assert (err.key, err.expected) == (key, expected)


def test_bad_choice(tmp_path: Path) -> None:
    err = relay_error(tmp_path, 'log_level = "verbose"\n')
    assert err.key == "log_level"
    assert "expected one of 'debug', 'info', 'warning', 'error', got 'verbose'" in str(err)


def test_nested_errors_name_the_dotted_key(tmp_path: Path) -> None:
    text = AGENT_HEAD + '[[backends]]\nurl = "http://a"\n[[backends]]\nurl = "ftp://b"\n'
    err = agent_error(tmp_path, text)
    assert err.key == "backends[1].url"
    assert f"{tmp_path / 'agent.toml'}: key 'backends[1].url'" in str(err)
    err = agent_error(tmp_path, AGENT_HEAD + '[[backends]]\nurl = "http://a"\nkind = "tgi"\n')
    assert err.key == "backends[0].kind"
    assert "'auto', 'openai'" in err.expected
    err = agent_error(tmp_path, AGENT_HEAD + "scan_ports = [1234, 0]\n")
    assert (err.key, err.expected) == ("scan_ports[1]", "an integer 1-65535")
    err = agent_error(tmp_path, AGENT_HEAD + 'allowed_routes = ["v1/models"]\n')
    assert err.key == "allowed_routes[0]"


def test_unknown_key_suggests(tmp_path: Path) -> None:
    err = agent_error(tmp_path, 'relay_ur = "https://r"\ntoken = "t"\n')
    assert (
        str(err) == f"{tmp_path / 'agent.toml'}: unknown key 'relay_ur' (did you mean 'relay_url'?)"
    )
    assert err.key == "relay_ur"


def test_unknown_nested_key_and_no_suggestion(tmp_path: Path) -> None:
    err = agent_error(tmp_path, AGENT_HEAD + '[[backends]]\nurl = "http://a"\napi_kee = "x"\n')
    assert "unknown key 'backends[0].api_kee' (did you mean 'api_key'?)" in str(err)
    err = relay_error(tmp_path, "zzz = 1\n")
    assert str(err).endswith("unknown key 'zzz'")


def test_toml_syntax_error_names_line(tmp_path: Path) -> None:
    err = relay_error(tmp_path, 'host = "0.0.0.0"\n\nport 8080\n')
    assert err.line == 3
    assert "line 3" in str(err) and "invalid TOML" in str(err)


def test_syntax_error_at_end_of_file(tmp_path: Path) -> None:
    err = relay_error(tmp_path, 'host = "0.0.0.0"\nport =')
    assert err.line == 2
    assert "invalid TOML" in str(err)


def test_missing_required_key(tmp_path: Path) -> None:
    err = agent_error(tmp_path, 'relay_url = "https://relay.test"\n')
    assert err.file == str(tmp_path / "agent.toml")
    assert err.key == "token"
    assert "missing required key 'token'" in str(err)
    assert "LLMCLUSTER_AGENT_TOKEN" in str(err)
    err = agent_error(tmp_path, AGENT_HEAD + '[[backends]]\nkind = "vllm"\n')
    assert err.key == "backends[0].url"


def test_missing_required_key_without_file() -> None:
    with pytest.raises(ConfigError) as info:
        load_agent_settings(env={"LLMCLUSTER_AGENT_TOKEN": "t"})
    assert info.value.key == "relay_url"
    assert "LLMCLUSTER_AGENT_RELAY_URL" in str(info.value)


def test_certfile_without_keyfile(tmp_path: Path) -> None:
    err = relay_error(tmp_path, 'certfile = "cert.pem"\n')
    assert err.key == "certfile"
    assert "keyfile" in err.expected
    assert "key 'certfile'" in str(err)
    err = relay_error(tmp_path, 'keyfile = "key.pem"\n')
    assert err.key == "keyfile" and "certfile" in err.expected


def test_certfile_from_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_relay_settings(env={"LLMCLUSTER_RELAY_CERTFILE": "/c.pem"})
    assert info.value.file == "environment"
    assert info.value.key == "LLMCLUSTER_RELAY_CERTFILE"


def test_env_error_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_relay_settings(env={"LLMCLUSTER_RELAY_PORT": "abc"})
    assert str(info.value) == (
        "environment: key 'LLMCLUSTER_RELAY_PORT': expected an integer 1-65535, got 'abc'"
    )
    with pytest.raises(ConfigError) as info:
        load_agent_settings(env={"LLMCLUSTER_AGENT_SCAN": "maybe"}, overrides=REQUIRED)
    assert info.value.key == "LLMCLUSTER_AGENT_SCAN"
    assert info.value.expected == "true or false"


def test_override_errors_name_the_command_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_relay_settings(env={}, overrides={"port": 0})
    assert info.value.file == "command line"
    assert str(info.value).startswith("command line: key 'port'")
    with pytest.raises(ConfigError) as info:
        load_relay_settings(env={}, overrides={"prot": 1})
    assert "unknown key 'prot' (did you mean 'port'?)" in str(info.value)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_console_settings(path, env={})
    assert info.value.file == str(path)
    assert "cannot read" in str(info.value)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_bytes(b"host = '\xff'\n")
    with pytest.raises(ConfigError) as info:
        load_relay_settings(path, env={})
    assert info.value.file == str(path)


# --- secrets never appear in messages ---------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'relay_url = "https://relay.test"\ntoken = ["{s}"]\n',
        'relay_url = "https://relay.test"\ntoken = ""\n',
        'relay_url = "https://relay.test"\ntoken = "{s}\n',  # unterminated string
        AGENT_HEAD.replace("{", "{{").replace("}", "}}") + '[[backends]]\nurl = "http://a"\n'
        'api_key = ["{s}"]\n',
        AGENT_HEAD.replace("{", "{{").replace("}", "}}") + 'backends = {{url = "http://a", '
        'api_key = "{s}"}}\n',
        AGENT_HEAD.replace("{", "{{").replace("}", "}}") + '[[backends]]\nurl = "http://a"\n'
        'token = "{s}"\n',
        'relay_url = "https://relay.test"\ntokn = "{s}"\n',
    ],
)
def test_secret_values_are_redacted(tmp_path: Path, text: str) -> None:
    err = agent_error(tmp_path, text.format(s=SECRET))
    assert SECRET not in str(err)
    assert SECRET not in err.got and SECRET not in err.expected
    assert SECRET not in repr(err.args)


def test_secret_type_error_shows_redacted(tmp_path: Path) -> None:
    err = agent_error(tmp_path, 'relay_url = "https://relay.test"\ntoken = 12345678\n')
    assert err.key == "token"
    assert err.got == "<redacted>"
    assert "12345678" not in str(err)


def test_secret_from_environment_is_redacted() -> None:
    with pytest.raises(ConfigError) as info:
        load_agent_settings(
            env={"LLMCLUSTER_AGENT_TOKEN": 12 * " "}, overrides=REQUIRED | {"token": None}
        )
    assert info.value.got == "<redacted>"
    assert info.value.key == "LLMCLUSTER_AGENT_TOKEN"


def test_url_passwords_are_masked(tmp_path: Path) -> None:
    err = relay_error(tmp_path, f'database_url = "mysql://llm:{SECRET}@db/llm"\n')
    assert err.key == "database_url"
    assert SECRET not in str(err)
    assert "mysql://llm:<redacted>@db/llm" in str(err)
    err = agent_error(tmp_path, f'relay_url = "wss://u:{SECRET}@relay"\ntoken = "t"\n')
    assert SECRET not in str(err)
