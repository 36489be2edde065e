"""The Nodes tab: every node the admin may see, live; Enter opens a node's detail."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable

from console import format as fmt
from console.screens.base import ConsoleScreen
from console.screens.dialogs import ConfirmDialog, Field, FormDialog, SecretDialog
from console.widgets import cells
from console.widgets.table import KeyedTable, Row

WIDE = 110  # terminal columns from which the wide layout is used

# (key, label, narrow width, wide width)
COLUMNS = [
    ("name", "Node", 10, 18),
    ("group", "Group", 7, 12),
    ("status", "Status", 7, 8),
    ("gpu", "GPU", 4, 4),
    ("vram", "VRAM", 11, 15),
    ("temp", "Temp", 4, 4),
    ("models", "Models", 8, 24),
    ("fly", "Busy", 4, 4),
    ("tps", "Tok/s", 5, 6),
]


def node_row(node: dict[str, Any], wide: bool) -> Row:
    """The cells of one node's row."""
    width = {key: (w if wide else n) for key, _, n, w in COLUMNS}
    util, used, total, temp = fmt.gpu_summary(node.get("gpus"))
    online = node.get("status") != "offline"
    in_flight = f"{node.get('in_flight', 0)}" if online else "-"
    return (
        node["id"],
        [
            fmt.truncate(node["name"], width["name"]),
            fmt.truncate(node.get("group", ""), width["group"]),
            cells.status(node.get("status", "offline"), bool(node.get("drained"))),
            cells.percent(util) if online else Text("-", style="dim"),
            cells.vram_bar(used, total, width["vram"] - 5) if online else Text("-", style="dim"),
            cells.temperature(temp) if online else Text("-", style="dim"),
            fmt.truncate(fmt.hot_models(node), width["models"]) if online else "-",
            in_flight,
            fmt.count(node.get("tokens_per_s")) if online else "-",
        ],
    )


class NodesScreen(ConsoleScreen):
    """A table: name, group, status, GPU %, VRAM bar, temperature, hot models, in-flight,
    tokens/s. Keys: Enter detail, d drain/resume, n new node token, x revoke."""

    TAB = "nodes"
    BINDINGS = [
        Binding("enter", "open", "Detail", show=False),
        Binding("d", "drain", "Drain/resume"),
        Binding("n", "new_token", "New node"),
        Binding("x,delete", "revoke", "Revoke"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.wide: bool | None = None

    def body(self) -> Iterable[Widget]:
        yield KeyedTable(self._columns(False), id="nodes")

    @staticmethod
    def _columns(wide: bool) -> list[tuple[str, str, int | None]]:
        return [(key, label, w if wide else n) for key, label, n, w in COLUMNS]

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#nodes", KeyedTable)

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= WIDE
        if wide != self.wide:
            self.wide = wide
            self.table.set_columns(self._columns(wide))
            self.redraw({"nodes"})

    def redraw(self, changed: set[str]) -> None:
        if "nodes" in changed:
            self.table.sync([node_row(n, bool(self.wide)) for n in self.fleet.sorted_nodes()])

    def selected(self) -> dict[str, Any] | None:
        key = self.table.selected_key
        return self.fleet.nodes.get(key) if key else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        node = self.selected()
        if node is not None:
            from console.screens.node_detail import NodeDetailScreen

            self.app.push_screen(NodeDetailScreen(node["id"]))

    def action_drain(self) -> None:
        node = self.selected()
        if node is None:
            return
        command = "node.resume" if node.get("drained") else "node.drain"
        verb = "Resumed" if node.get("drained") else "Draining"
        self.command(
            command, {"node": node["id"]}, lambda _: self.notify(f"{verb} {node['name']}.")
        )

    def action_new_token(self) -> None:
        groups = [(g["id"], g["name"]) for g in self.fleet.groups]
        if not groups:
            self.notify("You manage no group to add a node to.", severity="warning")
            return
        form = FormDialog(
            "Register a node (its token is shown once)",
            [
                Field("group", "Group", options=groups),
                Field("name", "Node name", placeholder="rig-2"),
            ],
            submit="Create",
        )
        self.app.push_screen(form, self._create_node)

    def _create_node(self, values: dict[str, str] | None) -> None:
        if values:
            self.command("node.create", values, self._show_token)

    def _show_token(self, result: dict[str, Any]) -> None:
        node = result["node"]
        note = (
            "Shown once: it cannot be recovered. On the rig run:\n"
            f"llmcluster-agent run --relay {self.console.relay_url} --token <this token>"
        )
        self.app.push_screen(SecretDialog(f"Node token for {node['name']}", result["token"], note))

    def action_revoke(self) -> None:
        node = self.selected()
        if node is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.command(
                    "node.revoke",
                    {"node": node["id"]},
                    lambda _: self.notify(f"Revoked {node['name']}."),
                )

        question = (
            f"Revoke node {node['name']!r}? Its tunnel closes now and its token stops working."
        )
        self.app.push_screen(ConfirmDialog(question, "Revoke"), confirmed)
