"""One node in detail: per-GPU sparklines of utilization, VRAM and temperature over the
last minutes, its models and its backends. Escape goes back to the Nodes tab."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Label, Static

from console import format as fmt
from console.screens.base import ConsoleScreen
from console.widgets.spark import Spark

SERIES = (("util", "util %", 100.0), ("vram", "vram %", 100.0), ("temp", "temp °C", 100.0))


class GpuPanel(Vertical):
    """One GPU: a title line and three labelled sparklines."""

    DEFAULT_CSS = """
    GpuPanel { height: auto; margin-bottom: 1; }
    GpuPanel Horizontal { height: 1; }
    GpuPanel Label.series { width: 8; color: $text-muted; }
    GpuPanel Label.now { width: 7; text-align: right; }
    GpuPanel Spark { width: 1fr; }
    """

    def __init__(self, index: str) -> None:
        super().__init__(id=f"gpu-{index}")
        self.index = index

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        for key, label, high in SERIES:
            with Horizontal():
                yield Label(label, classes="series")
                yield Spark(20.0 if key == "temp" else 0.0, high, id=f"spark-{key}")
                yield Label("", classes="now", id=f"now-{key}")

    def show(self, gpu: dict[str, Any] | None, history: dict[str, Any]) -> None:
        if gpu is not None:
            used = float(gpu.get("memory_used_mb") or 0)
            total = float(gpu.get("memory_total_mb") or 0)
            power = gpu.get("power_w")
            title = Text(f"GPU {self.index}  ", style="bold")
            title.append(f"{gpu.get('name') or '?'}  ")
            title.append(f"{fmt.gib(used)}/{fmt.gib(total)}")
            if power is not None:
                title.append(f"  {float(power):.0f} W")
            self.query_one("#title", Static).update(title)
        now = _current(gpu) if gpu is not None else {}
        for key, _, _ in SERIES:
            values = list(history.get(key, []))
            self.query_one(f"#spark-{key}", Spark).data = tuple(values)
            latest = now.get(key, values[-1] if values else None)
            self.query_one(f"#now-{key}", Label).update("-" if latest is None else f"{latest:.0f}")


def _current(gpu: dict[str, Any]) -> dict[str, float]:
    """The GPU's latest values on the sparklines' scales."""
    out: dict[str, float] = {}
    if isinstance(gpu.get("utilization_pct"), int | float):
        out["util"] = float(gpu["utilization_pct"])
    used, total = gpu.get("memory_used_mb"), gpu.get("memory_total_mb")
    if isinstance(used, int | float) and isinstance(total, int | float) and total:
        out["vram"] = 100 * used / total
    if isinstance(gpu.get("temperature_c"), int | float):
        out["temp"] = float(gpu["temperature_c"])
    return out


class NodeDetailScreen(ConsoleScreen):
    """The detail of the node ``node_id`` (stays open if it goes offline)."""

    TAB = "nodes"
    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        Binding("d", "drain", "Drain/resume"),
    ]
    DEFAULT_CSS = """
    NodeDetailScreen #summary { height: auto; padding: 0 1; }
    NodeDetailScreen #gpus { height: auto; padding: 0 1; }
    NodeDetailScreen #inventory { height: auto; padding: 0 1; }
    """

    def __init__(self, node_id: str) -> None:
        super().__init__()
        self.node_id = node_id
        self._gpu_indexes: list[str] = []

    def body(self) -> Iterable[Widget]:
        yield VerticalScroll(
            Static(id="summary"), Vertical(id="gpus"), Static(id="inventory"), id="detail"
        )

    @property
    def node(self) -> dict[str, Any] | None:
        return self.fleet.nodes.get(self.node_id)

    def redraw(self, changed: set[str]) -> None:
        if "nodes" not in changed:
            return
        node = self.node
        if node is None:
            self.query_one("#summary", Static).update("This node is no longer visible.")
            return
        self.query_one("#summary", Static).update(self._summary(node))
        self._show_gpus(node)
        self.query_one("#inventory", Static).update(self._inventory(node))

    def _show_gpus(self, node: dict[str, Any]) -> None:
        history = self.fleet.history.get(self.node_id, {})
        gpus = {str(g.get("index", 0)): g for g in node.get("gpus") or []}
        indexes = sorted(set(gpus) | set(history), key=lambda i: int(i) if i.isdigit() else 0)
        box = self.query_one("#gpus", Vertical)
        if indexes != self._gpu_indexes:
            self._gpu_indexes = indexes
            box.remove_children()
            box.mount_all([GpuPanel(i) for i in indexes])
            self.call_after_refresh(self._show_gpus, node)
            return
        for panel in box.query(GpuPanel):
            panel.show(gpus.get(panel.index), history.get(panel.index, {}))

    @staticmethod
    def _summary(node: dict[str, Any]) -> Text:
        text = Text(node["name"], style="bold")
        text.append(f"  group {node.get('group') or '?'}  ")
        status = node.get("status", "offline")
        text.append(status, style={"online": "green", "draining": "yellow"}.get(status, "red"))
        if node.get("drained"):
            text.append(" (drained by an admin)", style="yellow")
        if status != "offline":
            text.append(f"\nagent {node.get('agent_version') or '?'}")
            text.append(f"  connected {fmt.clock(node.get('connected_at'))}")
            text.append(
                f"  in flight {node.get('in_flight', 0)}/{node.get('max_concurrency') or '?'}"
            )
            text.append(f"  {fmt.count(node.get('tokens_per_s'))} tok/s")
            if node.get("gpus") is None:
                text.append("\nGPU metrics unavailable on this node.", style="dim")
        return text

    @staticmethod
    def _inventory(node: dict[str, Any]) -> Text:
        text = Text("Models", style="bold")
        for model in node.get("models") or []:
            mark = "● " if model.get("loaded") else "○ "
            text.append(f"\n {mark}{model['id']}", style="" if model.get("loaded") else "dim")
            text.append(f"  ({model.get('backend')})", style="dim")
        if not node.get("models"):
            text.append("\n (none)", style="dim")
        text.append("\nBackends", style="bold")
        for backend in node.get("backends") or []:
            text.append(f"\n {backend.get('kind')}  {backend.get('root_url')}")
            if backend.get("version"):
                text.append(f"  v{backend['version']}", style="dim")
            if backend.get("reachable") is False:
                text.append("  unreachable", style="red")
        if not node.get("backends"):
            text.append("\n (none)", style="dim")
        return text

    def action_back(self) -> None:
        self.dismiss()

    def action_drain(self) -> None:
        node = self.node
        if node is not None:
            command = "node.resume" if node.get("drained") else "node.drain"
            self.command(command, {"node": node["id"]})
