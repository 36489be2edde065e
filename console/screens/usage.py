"""The Usage tab: tokens by key, user, model or node over the last hour, day or week,
with a chart of tokens over time and a bar per row. w window, b grouping, g group."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Label, Static

from console import format as fmt
from console.screens.base import ConsoleScreen
from console.widgets.cells import bar
from console.widgets.spark import Spark
from console.widgets.table import KeyedTable

WINDOWS = ("1h", "24h", "7d")
BY = ("key", "user", "model", "node")
REFRESH_S = 30.0
COLUMNS: list[tuple[str, str, int | None]] = [
    ("name", "Name", 16),
    ("requests", "Reqs", 6),
    ("prompt", "Prompt", 7),
    ("completion", "Compl.", 7),
    ("total", "Total", 7),
    ("share", "Share", 14),
]


class UsageScreen(ConsoleScreen):
    """Usage from ``/admin/api/usage`` (the ``usage`` command), refreshed every 30 s."""

    TAB = "usage"
    BINDINGS = [
        Binding("w", "cycle_window", "Window"),
        Binding("b", "cycle_by", "By"),
        Binding("g", "cycle_group", "Group"),
        Binding("r", "reload", "Reload"),
    ]
    DEFAULT_CSS = """
    UsageScreen #choice { height: 1; padding: 0 1; }
    UsageScreen #chart-row { height: 3; padding: 0 1; }
    UsageScreen #chart-row Label { width: 12; }
    UsageScreen Spark { width: 1fr; height: 3; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.window = "24h"
        self.by = "key"
        self.group_id: str | None = None
        self.data: dict[str, Any] | None = None

    def body(self) -> Iterable[Widget]:
        yield Static(id="choice")
        yield Horizontal(
            Label("tokens\nover time", id="chart-label"),
            Spark(0.0, None, stretch=True, id="chart"),
            id="chart-row",
        )
        yield KeyedTable(COLUMNS, id="usage")

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self.action_reload)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.action_reload()

    def redraw(self, changed: set[str]) -> None:
        group = self.fleet.group(self.group_id)
        text = Text()
        for label, value in (
            ("w", self.window),
            ("b", self.by),
            ("g", group["name"] if group else "all my groups"),
        ):
            text.append(f"{label} ", style="bold")
            text.append(f"{value}   ")
        if self.data is None:
            text.append("loading…", style="dim")
        self.query_one("#choice", Static).update(text)
        if self.data is not None:
            self._show(self.data)

    def _show(self, data: dict[str, Any]) -> None:
        series = data.get("series", {})
        tokens = [float(t) for t in series.get("tokens", [])]
        self.query_one("#chart", Spark).data = tuple(tokens)
        bucket = int(series.get("bucket_s", 3600))
        per = f"{bucket // 60} min" if bucket < 3600 else f"{bucket // 3600} h"
        self.query_one("#chart-label", Label).update(f"tokens per\n{per}, {fmt.count(sum(tokens))}")
        rows = data.get("rows", [])
        top = max((r["total_tokens"] for r in rows), default=0) or 1
        self.query_one("#usage", KeyedTable).sync(
            [
                (
                    str(r.get("id") or r["name"]),
                    [
                        fmt.truncate(r["name"], 16),
                        fmt.count(r["requests"]),
                        fmt.count(r["prompt_tokens"]),
                        fmt.count(r["completion_tokens"]),
                        fmt.count(r["total_tokens"]),
                        bar(r["total_tokens"] / top, 14, "cyan"),
                    ],
                )
                for r in rows
            ]
        )

    def _loaded(self, data: dict[str, Any]) -> None:
        self.data = data
        self.redraw(set())

    def action_reload(self) -> None:
        params: dict[str, Any] = {"window": self.window, "by": self.by}
        if self.group_id:
            params["group"] = self.group_id
        self.command("usage", params, self._loaded)

    def _cycle(self, options: tuple[Any, ...], current: Any) -> Any:
        return (
            options[(options.index(current) + 1) % len(options)]
            if current in options
            else options[0]
        )

    def action_cycle_window(self) -> None:
        self.window = self._cycle(WINDOWS, self.window)
        self.action_reload()
        self.redraw(set())

    def action_cycle_by(self) -> None:
        self.by = self._cycle(BY, self.by)
        self.action_reload()
        self.redraw(set())

    def action_cycle_group(self) -> None:
        ids = (None, *(g["id"] for g in self.fleet.groups))
        self.group_id = self._cycle(ids, self.group_id)
        self.action_reload()
        self.redraw(set())
