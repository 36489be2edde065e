"""The example files in config/ validate, show every key, and match the defaults."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import config
from config import (
    AgentSettings,
    ConsoleSettings,
    RelaySettings,
    load_agent_settings,
    load_console_settings,
    load_relay_settings,
)

EXAMPLES = Path(config.__file__).parent


@pytest.mark.parametrize(
    ("name", "cls"),
    [("relay", RelaySettings), ("agent", AgentSettings), ("console", ConsoleSettings)],
)
def test_example_mentions_every_key(name: str, cls: type) -> None:
    text = (EXAMPLES / f"{name}.example.toml").read_text(encoding="utf-8")
    shown = set(re.findall(r"^(?:# )?\[?\[?(\w+)\]?\]?(?: =|$)", text, re.MULTILINE))
    missing = {f.name for f in dataclasses.fields(cls)} - shown
    assert not missing, f"{name}.example.toml lacks {sorted(missing)}"


def test_relay_example_loads_and_equals_defaults() -> None:
    env: dict[str, str] = {}
    loaded = load_relay_settings(EXAMPLES / "relay.example.toml", env=env)
    assert loaded == load_relay_settings(env=env)


def test_agent_example_loads_and_equals_defaults() -> None:
    loaded = load_agent_settings(EXAMPLES / "agent.example.toml", env={})
    assert loaded.relay_url.startswith("https://")
    assert loaded == AgentSettings(relay_url=loaded.relay_url, token=loaded.token)


def test_console_example_loads_and_equals_defaults() -> None:
    assert load_console_settings(EXAMPLES / "console.example.toml", env={}) == ConsoleSettings()


def test_commented_examples_are_valid_too(tmp_path: Path) -> None:
    """Uncommenting every example line must still give a valid file."""
    for name, load in [
        ("relay", load_relay_settings),
        ("agent", load_agent_settings),
        ("console", load_console_settings),
    ]:
        text = (EXAMPLES / f"{name}.example.toml").read_text(encoding="utf-8")
        lines = [
            line[2:] if re.match(r"# (\[\[\w+\]\]$|\w+ = )", line) else line
            for line in text.splitlines()
        ]
        path = tmp_path / f"{name}.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        load(path, env={})
