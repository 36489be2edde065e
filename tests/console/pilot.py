"""Helpers for driving the console with Textual's Pilot against a real relay."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable

from console.app import ConsoleApp
from console.client import AdminClient
from console.widgets.status import StatusBar


def console_for(relay_url: str, token: str) -> ConsoleApp:
    return ConsoleApp(AdminClient(relay_url, token), relay_url, refresh_interval_s=0.1)


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 20, what: str = ""
) -> None:
    """Let the app run until ``predicate()`` holds (bounded; no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


def table_text(app: ConsoleApp, selector: str) -> list[list[str]]:
    """The rows of a table on the current screen, as plain strings."""
    table = app.screen.query_one(selector, DataTable)
    return [
        [str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)
    ]


def status_text(app: ConsoleApp) -> str:
    """The status line of the current screen, as plain text."""
    return str(app.screen.query_one(StatusBar).content)
