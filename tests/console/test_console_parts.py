"""The console's parts without a relay: the fleet model, formatting, the sparkline, the
command palette's coverage of every binding, and the command line."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from console import format as fmt
from console.app import ConsoleApp
from console.cli import main
from console.client import admin_urls, retry_delay
from console.model import Fleet
from console.palette import ENTRIES
from console.screens.base import ConsoleScreen
from console.screens.dialogs import FormDialog
from console.screens.groups import GroupsScreen
from console.screens.keys import KeysScreen
from console.screens.node_detail import NodeDetailScreen
from console.screens.nodes import NodesScreen
from console.screens.requests import RequestsScreen
from console.screens.usage import UsageScreen
from console.widgets.spark import spark_rows
from tests.console.pilot import wait_for
from tests.console.recorded import SNAPSHOT, RecordedClient


def test_fleet_applies_a_snapshot_then_updates() -> None:
    fleet = Fleet()
    assert fleet.apply({"type": "update", "nodes": []}) == set()  # nothing before a snapshot
    assert "nodes" in fleet.apply(SNAPSHOT)
    assert "history" in SNAPSHOT["nodes"][0]  # the frame itself is left untouched
    assert fleet.counts() == (5, 6, 11)
    assert len(fleet.history["n-alice"]["0"]["util"]) == 90
    changed = fleet.apply(
        {
            "type": "update",
            "nodes": [{**SNAPSHOT["nodes"][3], "status": "online", "gpus": None, "history": {}}],
            "removed_nodes": ["n-lab2"],
            "requests": [{"request_id": "new"}],
            "keys": [],
        }
    )
    assert changed == {"nodes", "requests", "keys"}
    assert "n-lab2" not in fleet.nodes and fleet.keys == []
    assert fleet.requests[-1] == {"request_id": "new"}
    assert fleet.requests_seen == len(SNAPSHOT["requests"]) + 1
    fleet.sample()
    assert len(fleet.history["n-alice"]["0"]["util"]) == 91
    assert fleet.history["n-alice"]["0"]["util"][-1] == 87.0


def test_formatting() -> None:
    assert fmt.count(1234) == "1.2k" and fmt.count(2_500_000) == "2.5M" and fmt.count(7) == "7"
    assert fmt.millis(85.2) == "85ms" and fmt.millis(12_500) == "12.5s" and fmt.millis(None) == "-"
    assert fmt.truncate("abcdefgh", 5) == "abcd…"
    gpus = SNAPSHOT["nodes"][0]["gpus"]
    assert fmt.gpu_summary(gpus) == (64.5, 28900.0, 49140.0, 71)
    assert fmt.gpu_summary(None) == (None, 0.0, 0.0, None)
    assert fmt.clock("not a time") == "-"


def test_sparkline_rows() -> None:
    assert spark_rows([0, 50, 100], 5, 1, 0, 100) == ["   ▄█"]
    assert spark_rows([100], 3, 2, 0, 100) == ["  █", "  █"]
    assert spark_rows([150, -5], 2, 1, 0, 100) == ["█ "]


def test_admin_urls_and_backoff() -> None:
    assert admin_urls("https://relay.example/base/") == (
        "wss://relay.example/base/admin/ws",
        "https://relay.example/base/admin/api",
    )
    assert admin_urls("http://127.0.0.1:8080")[0] == "ws://127.0.0.1:8080/admin/ws"
    assert retry_delay(1) <= 0.6 and retry_delay(50) <= 6.0


def test_every_binding_is_in_the_command_palette() -> None:
    screens: list[type[ConsoleScreen]] = [
        NodesScreen,
        GroupsScreen,
        KeysScreen,
        UsageScreen,
        RequestsScreen,
    ]
    in_palette = {(tab, action) for _, _, tab, action in ENTRIES}
    for screen in screens:
        for binding in screen.BINDINGS:
            action = binding.action if hasattr(binding, "action") else binding[1]  # type: ignore[index]
            assert (screen.TAB, action) in in_palette, (screen.__name__, action)
    tabs = {tab for _, _, tab, action in ENTRIES if action is None}
    assert tabs == {"nodes", "groups", "keys", "usage", "requests"}
    assert {b.action for b in NodeDetailScreen.BINDINGS} <= {"back", "drain"}  # type: ignore[union-attr]


async def test_the_palette_runs_an_action_on_its_tab() -> None:
    app = ConsoleApp(RecordedClient(), "http://relay.test")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.fleet.loaded)
        await pilot.press("ctrl+p")
        await pilot.press(*"new api key")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the key form")
        assert app.current_mode == "keys"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, KeysScreen))


async def test_usage_is_asked_for_with_the_chosen_window_and_grouping() -> None:
    client = RecordedClient()
    app = ConsoleApp(client, "http://relay.test")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.fleet.loaded)
        await pilot.press("4")
        await wait_for(pilot, lambda: bool(client.commands))
        await pilot.press("w", "b", "g")
        await wait_for(pilot, lambda: len(client.commands) >= 4)
        assert client.commands[0] == ("usage", {"window": "24h", "by": "key"})
        assert client.commands[-1] == (
            "usage",
            {"window": "7d", "by": "user", "group": "g-friends"},
        )


async def test_a_refused_command_becomes_a_notification() -> None:
    app = ConsoleApp(RecordedClient(), "http://relay.test")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.fleet.loaded)
        app.run_command("key.revoke", {"key": "k1"})
        await wait_for(pilot, lambda: bool(app._notifications))
        assert [n.message for n in app._notifications] == [
            "key.revoke is not available in a recording."
        ]


def test_cli_without_a_token_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    for var in ("LLMCLUSTER_ADMIN_TOKEN", "LLMCLUSTER_CONSOLE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["--relay", "http://127.0.0.1:1"]) == 2
    assert "token create --user" in capsys.readouterr().err
    assert main(["--relay", "ftp://x", "--token", "t"]) == 2
    assert "relay_url" in capsys.readouterr().err


def test_cli_reads_the_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from console.cli import load_settings, parse_args

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("LLMCLUSTER_ADMIN_TOKEN", "from-env")
    settings = load_settings(parse_args([]))
    assert settings.token == "from-env" and settings.relay_url == "http://127.0.0.1:8080"
    (tmp_path / "llmcluster").mkdir()
    (tmp_path / "llmcluster" / "console.toml").write_text('relay_url = "https://r.example"\n')
    settings = load_settings(parse_args(["--token", "flag"]))
    assert settings.token == "flag" and settings.relay_url == "https://r.example"
    assert asyncio.iscoroutinefunction(RecordedClient().command)
