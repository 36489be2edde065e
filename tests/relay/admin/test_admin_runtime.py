"""The admin runtime's bookkeeping, without a network: tokens/s, GPU history, drains."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from relay.admin.live import queue_lengths
from relay.admin.runtime import AdminRuntime, GpuHistory, Throughput
from relay.directory import LocalDirectory
from relay.events import EventHub


def gpu(util: float, used: float, total: float, temp: float) -> dict[str, Any]:
    return {
        "index": 0,
        "utilization_pct": util,
        "memory_used_mb": used,
        "memory_total_mb": total,
        "temperature_c": temp,
    }


def test_throughput_is_tokens_per_second_over_the_last_minute() -> None:
    meter = Throughput(window_s=60)
    start = meter._started
    meter.add("n1", 600, now=start + 70)
    meter.add("n1", None, now=start + 70)  # an unknown count adds nothing
    meter.add(None, 50, now=start + 70)
    assert meter.rate("n1", now=start + 80) == 10.0
    assert meter.rate("n1", now=start + 131) == 0.0  # out of the window
    assert meter.rate("n2", now=start + 80) == 0.0
    young = Throughput(window_s=60)
    young.add("n", 100, now=young._started + 1)
    assert young.rate("n", now=young._started + 10) == 10.0  # over the 10 s tracked so far


def test_gpu_history_keeps_recent_samples_per_gpu() -> None:
    history = GpuHistory(samples=3)
    for i in range(5):
        history.sample("n1", (gpu(10 * i, 512 * i, 2048, 40 + i),), now=float(i))
    history.sample("n2", None, now=4.0)
    assert history.of("n1") == {
        "0": {"util": [20.0, 30.0, 40.0], "vram": [50.0, 75.0, 100.0], "temp": [42.0, 43.0, 44.0]}
    }
    assert history.of("n2") == {}
    history.forget_older(2.0, now=10.0)
    assert history.of("n1") == {}


def test_a_drain_survives_a_reconnect_and_resume_wakes_the_queue() -> None:
    directory = LocalDirectory()
    state = SimpleNamespace(events=EventHub(), directory=directory)
    runtime = AdminRuntime(state)  # type: ignore[arg-type]
    woken: list[str] = []
    session = SimpleNamespace(
        node_id="n1", group_id="g", draining=False, capacity_changed=lambda: woken.append("g")
    )
    runtime.set_drained("n1", True)  # offline: remembered
    directory._by_node["n1"] = session  # type: ignore[assignment]
    runtime.tick(0.0)
    assert session.draining is True
    runtime.set_drained("n1", False)
    assert session.draining is False and woken == ["g"]
    state.events.publish("request", {"node_id": "n1", "completion_tokens": 30})
    runtime.tick(runtime.throughput._started + 3)
    assert runtime.throughput.rate("n1", now=runtime.throughput._started + 3) == 10.0


def test_queue_lengths_come_from_the_scheduler_when_there_is_one() -> None:
    assert queue_lengths(SimpleNamespace(), None) == {}  # type: ignore[arg-type]
    queues = SimpleNamespace(lengths=lambda: {"g1": {"m": 2}, "g2": {"m": 1}})
    state = SimpleNamespace(dispatcher=SimpleNamespace(queues=queues))
    assert queue_lengths(state, {"g1"}) == {"g1": {"m": 2}}  # type: ignore[arg-type]
    assert queue_lengths(state, None) == {"g1": {"m": 2}, "g2": {"m": 1}}  # type: ignore[arg-type]
