"""The admin API's process-wide bookkeeping: recent tokens/s, GPU history, drained nodes.

One :class:`AdminRuntime` per relay process, kept in ``app.extensions``. Its background
task (:meth:`AdminRuntime.run`) wakes on a timer, never per request: it drains its event
subscription in batches to count tokens per node, samples every live node's GPU metrics
for the console's sparklines, and re-applies operator drains to nodes that reconnected.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from quart import Quart, current_app

from relay.state import RelayState

EXTENSION = "llmcluster.admin"
THROUGHPUT_WINDOW_S = 60.0
HISTORY_INTERVAL_S = 2.0
HISTORY_SAMPLES = 180  # six minutes at one sample every two seconds
TICK_S = 0.5


class Throughput:
    """Completion tokens per node over the last minute, from finished requests."""

    def __init__(self, window_s: float = THROUGHPUT_WINDOW_S) -> None:
        self.window_s = window_s
        self._started = time.monotonic()
        self._by_node: dict[str, deque[tuple[float, int]]] = {}

    def add(self, node_id: str | None, tokens: int | None, now: float | None = None) -> None:
        if node_id and tokens:
            when = time.monotonic() if now is None else now
            self._by_node.setdefault(node_id, deque()).append((when, tokens))

    def rate(self, node_id: str, now: float | None = None) -> float:
        """Tokens per second; over the time tracked so far when that is under a window."""
        samples = self._by_node.get(node_id)
        if not samples:
            return 0.0
        now = time.monotonic() if now is None else now
        cutoff = now - self.window_s
        while samples and samples[0][0] < cutoff:
            samples.popleft()
        span = max(1.0, min(self.window_s, now - self._started))
        return sum(tokens for _, tokens in samples) / span


class GpuHistory:
    """Per node and GPU, the last few minutes of utilization, VRAM and temperature."""

    def __init__(self, samples: int = HISTORY_SAMPLES) -> None:
        self._samples = samples
        self._nodes: dict[str, dict[int, dict[str, deque[float]]]] = {}
        self._last: dict[str, float] = {}

    def sample(
        self, node_id: str, gpus: tuple[dict[str, Any], ...] | None, now: float | None = None
    ) -> None:
        self._last[node_id] = time.monotonic() if now is None else now
        per_gpu = self._nodes.setdefault(node_id, {})
        for gpu in gpus or ():
            index = int(gpu.get("index", 0))
            series = per_gpu.setdefault(
                index, {k: deque(maxlen=self._samples) for k in ("util", "vram", "temp")}
            )
            series["util"].append(_num(gpu.get("utilization_pct")))
            used, total = _num(gpu.get("memory_used_mb")), _num(gpu.get("memory_total_mb"))
            series["vram"].append(round(100 * used / total, 1) if total else 0.0)
            series["temp"].append(_num(gpu.get("temperature_c")))

    def forget_older(self, age_s: float, now: float | None = None) -> None:
        """Drop the history of nodes not sampled for ``age_s`` (offline a long while)."""
        cutoff = (time.monotonic() if now is None else now) - age_s
        for node_id in [n for n, t in self._last.items() if t < cutoff]:
            del self._last[node_id]
            self._nodes.pop(node_id, None)

    def of(self, node_id: str) -> dict[str, dict[str, list[float]]]:
        """``{"<gpu index>": {"util": [...], "vram": [...], "temp": [...]}}``, oldest first."""
        return {
            str(index): {name: list(values) for name, values in series.items()}
            for index, series in sorted(self._nodes.get(node_id, {}).items())
        }


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class AdminRuntime:
    """Shared state of the admin API within one relay process."""

    def __init__(self, state: RelayState) -> None:
        self.state = state
        self.throughput = Throughput()
        self.history = GpuHistory()
        self.drained: set[str] = set()
        self._subscription = state.events.subscribe(maxlen=10_000)

    def set_drained(self, node_id: str, drained: bool) -> None:
        """Drain (no new requests) or resume a node, now and after it reconnects."""
        if drained:
            self.drained.add(node_id)
        else:
            self.drained.discard(node_id)
        session = self.state.directory.get(node_id)
        if session is not None:
            session.draining = drained
            wake = getattr(session, "capacity_changed", None)  # queued requests may go now
            if not drained and wake is not None:
                wake()

    def tick(self, now: float) -> None:
        """Count finished requests and re-apply drains (cheap; runs every TICK_S)."""
        for kind, payload in self._subscription.drain():
            if kind == "request":
                self.throughput.add(payload.get("node_id"), payload.get("completion_tokens"), now)
        for node_id in self.drained:
            session = self.state.directory.get(node_id)
            if session is not None and not session.draining:
                session.draining = True

    def sample_gpus(self) -> None:
        for session in self.state.directory.sessions():
            self.history.sample(session.node_id, session.gpus)
        self.history.forget_older(HISTORY_INTERVAL_S * HISTORY_SAMPLES)

    async def run(self) -> None:
        """Loop until cancelled (safe to cancel at any await)."""
        next_sample = 0.0
        try:
            while True:
                now = time.monotonic()
                self.tick(now)
                if now >= next_sample:
                    next_sample = now + HISTORY_INTERVAL_S
                    self.sample_gpus()
                await asyncio.sleep(TICK_S)
        finally:
            self._subscription.close()


def start_admin(app: Quart, state: RelayState) -> asyncio.Task[None]:
    """Create the process's :class:`AdminRuntime` and start its task (the caller cancels it)."""
    runtime = AdminRuntime(state)
    app.extensions[EXTENSION] = runtime
    return asyncio.get_running_loop().create_task(runtime.run())


def admin_runtime() -> AdminRuntime:
    """The runtime of the app serving the current request or websocket."""
    runtime: AdminRuntime = current_app.extensions[EXTENSION]
    return runtime
