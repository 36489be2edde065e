"""The Requests tab: the relay's live request feed, newest at the bottom (like ``tail
-f``). It follows new requests unless paused with p or the cursor was moved up."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget

from console import format as fmt
from console.model import MAX_REQUESTS
from console.screens.base import ConsoleScreen
from console.widgets.cells import http_status
from console.widgets.table import KeyedTable

COLUMNS: list[tuple[str, str, int | None]] = [
    ("time", "Time", 8),
    ("key", "Key", 9),
    ("model", "Model", 14),
    ("node", "Node", 9),
    ("ttft", "TTFT", 6),
    ("tokens", "Tok in/out", 10),
    ("status", "St", 3),
]


def request_row(r: dict[str, Any]) -> list[str | Text]:
    tokens = f"{fmt.count(r.get('prompt_tokens'))}/{fmt.count(r.get('completion_tokens'))}"
    return [
        fmt.clock(r.get("time")),
        fmt.truncate(r.get("key_name") or "-", 9),
        fmt.truncate(r.get("model") or "-", 14),
        fmt.truncate(r.get("node_name") or "-", 9),
        fmt.millis(r.get("ttft_ms")),
        tokens,
        http_status(r.get("status")),
    ]


class RequestsScreen(ConsoleScreen):
    """Time, key, model, node, TTFT, tokens and status of the last requests."""

    TAB = "requests"
    BINDINGS = [Binding("p", "pause", "Pause/follow")]

    def __init__(self) -> None:
        super().__init__()
        self.follow = True
        self._shown: list[str] = []
        self._seen = 0

    def body(self) -> Iterable[Widget]:
        yield KeyedTable(COLUMNS, id="requests")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#requests", KeyedTable)

    def redraw(self, changed: set[str]) -> None:
        if "requests" not in changed:
            return
        fleet = self.fleet
        table = self.table
        new = min(fleet.requests_seen - self._seen, len(fleet.requests))
        if new <= 0 and self._shown:
            return
        at_end = table.cursor_row >= table.row_count - 1
        if not self._shown or new >= MAX_REQUESTS or new < 0:
            table.clear()
            self._shown = []
            added = list(fleet.requests)
        else:
            added = list(fleet.requests)[-new:]
        self._seen = fleet.requests_seen
        for r in added:
            key = r.get("request_id") or f"r{len(self._shown)}-{self._seen}"
            if key in self._shown:
                continue
            table.add_row(*request_row(r), key=key)
            self._shown.append(key)
        while len(self._shown) > MAX_REQUESTS:
            table.remove_row(self._shown.pop(0))
        if self.follow and at_end and table.row_count:
            self.call_after_refresh(self._to_end)

    def _to_end(self) -> None:
        table = self.table
        if table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)

    def action_pause(self) -> None:
        self.follow = not self.follow
        self.notify("Following new requests." if self.follow else "Paused: not following.")
        if self.follow:
            self._to_end()
