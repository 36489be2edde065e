"""SVG snapshots of every screen, from a fixed relay state, at 80x24 and 120x40.

The app is fed :data:`tests.console.recorded.SNAPSHOT` (the relay's wire format) by a
recorded client, so nothing depends on a live relay or the clock. Update the SVGs in
``__snapshots__/`` with ``pytest tests/console --snapshot-update`` after a deliberate
change, and look at them before committing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from console.app import ConsoleApp
from tests.console.recorded import RecordedClient

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times are shown in local time: make that UTC for the screenshots."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def recorded_app() -> ConsoleApp:
    return ConsoleApp(RecordedClient(), "http://relay.test:8080")


def keys_then_settle(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ConsoleApp)
        while not app.fleet.loaded or app._redraw_due:
            await pilot.pause(0.01)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    return run


SCREENS = {
    "nodes": (),
    "node_detail": ("enter",),
    "groups": ("2",),
    "keys": ("3",),
    "usage": ("4",),
    "requests": ("5",),
    "new_key_dialog": ("3", "n"),
}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare: Any, screen: str, size: str) -> None:
    assert snap_compare(
        recorded_app(), terminal_size=SIZES[size], run_before=keys_then_settle(*SCREENS[screen])
    )
