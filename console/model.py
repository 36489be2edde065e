"""What the console knows about the relay: the last snapshot with its updates applied.

Pure data, no Textual and no I/O: :meth:`Fleet.apply` takes the relay's ``snapshot`` and
``update`` frames (the wire format of ``/admin/ws``) and says which parts changed, so a
screen redraws only what it shows. :meth:`Fleet.sample` extends each GPU's history (for
the sparklines) from the latest values, on the console's own clock.
"""

from __future__ import annotations

from collections import deque
from typing import Any

HISTORY_SAMPLES = 180
MAX_REQUESTS = 200
SERIES = ("util", "vram", "temp")

GpuSeries = dict[str, deque[float]]


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class Fleet:
    """The console's copy of the relay's state, as seen by the signed-in admin."""

    def __init__(self) -> None:
        self.me: dict[str, Any] = {}
        self.time: str | None = None
        self.interval_s = 1.0
        self.history_interval_s = 2.0
        self.nodes: dict[str, dict[str, Any]] = {}
        self.groups: list[dict[str, Any]] = []
        self.keys: list[dict[str, Any]] = []
        self.aliases: list[dict[str, Any]] = []
        self.queues: dict[str, dict[str, int]] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=MAX_REQUESTS)
        self.requests_seen = 0  # grows with every request received (for incremental views)
        self.history: dict[str, dict[str, GpuSeries]] = {}
        self.loaded = False

    # -- applying frames -------------------------------------------------------------

    def apply(self, message: dict[str, Any]) -> set[str]:
        """Apply a ``snapshot`` or ``update`` frame; the names of the parts that changed."""
        kind = message.get("type")
        if kind == "snapshot":
            return self._snapshot(message)
        if kind == "update" and self.loaded:
            return self._update(message)
        return set()

    def _snapshot(self, message: dict[str, Any]) -> set[str]:
        self.loaded = True
        self.time = message.get("time")
        self.interval_s = float(message.get("interval_s") or 1.0)
        self.history_interval_s = float(message.get("history_interval_s") or 2.0)
        self.nodes = {}
        self.history = {}
        for raw in message.get("nodes", []):
            node = dict(raw)
            history = node.pop("history", None) or {}
            self.nodes[node["id"]] = node
            self.history[node["id"]] = {
                index: {
                    name: deque(map(_num, values.get(name, [])), maxlen=HISTORY_SAMPLES)
                    for name in SERIES
                }
                for index, values in history.items()
            }
        self.requests.clear()
        self._add_requests(message.get("requests", []))
        for part in ("me", "groups", "keys", "aliases", "queues"):
            setattr(self, part, message.get(part) or ({} if part in ("me", "queues") else []))
        return {"nodes", "requests", "me", "groups", "keys", "aliases", "queues"}

    def _update(self, message: dict[str, Any]) -> set[str]:
        changed: set[str] = set()
        self.time = message.get("time", self.time)
        for node in message.get("nodes", []):
            self.nodes[node["id"]] = node
            changed.add("nodes")
        for node_id in message.get("removed_nodes", []):
            self.nodes.pop(node_id, None)
            self.history.pop(node_id, None)
            changed.add("nodes")
        if message.get("requests"):
            self._add_requests(message["requests"])
            changed.add("requests")
        for part in ("me", "groups", "keys", "aliases", "queues"):
            if part in message:
                setattr(self, part, message[part])
                changed.add(part)
        return changed

    def _add_requests(self, requests: list[dict[str, Any]]) -> None:
        self.requests.extend(requests)
        self.requests_seen += len(requests)

    def sample(self) -> None:
        """Append each online GPU's latest utilization, VRAM % and temperature."""
        for node_id, node in self.nodes.items():
            if node.get("status") == "offline" or not node.get("gpus"):
                continue
            per_gpu = self.history.setdefault(node_id, {})
            for gpu in node["gpus"]:
                series = per_gpu.setdefault(
                    str(gpu.get("index", 0)),
                    {name: deque(maxlen=HISTORY_SAMPLES) for name in SERIES},
                )
                used, total = _num(gpu.get("memory_used_mb")), _num(gpu.get("memory_total_mb"))
                series["util"].append(_num(gpu.get("utilization_pct")))
                series["vram"].append(round(100 * used / total, 1) if total else 0.0)
                series["temp"].append(_num(gpu.get("temperature_c")))

    # -- questions the screens ask ---------------------------------------------------

    @property
    def is_operator(self) -> bool:
        return self.me.get("role") == "operator"

    def sorted_nodes(self) -> list[dict[str, Any]]:
        return sorted(self.nodes.values(), key=lambda n: (n.get("group", ""), n["name"], n["id"]))

    def group(self, group_id: str | None) -> dict[str, Any] | None:
        return next((g for g in self.groups if g["id"] == group_id), None)

    def group_names(self) -> dict[str, str]:
        return {g["id"]: g["name"] for g in self.groups}

    def aliases_of(self, group_id: str) -> list[dict[str, Any]]:
        return [a for a in self.aliases if a.get("group_id") == group_id]

    def counts(self) -> tuple[int, int, int]:
        """(online nodes, all nodes, requests in flight)."""
        online = [n for n in self.nodes.values() if n.get("status") != "offline"]
        return len(online), len(self.nodes), sum(int(n.get("in_flight") or 0) for n in online)
