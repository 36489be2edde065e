"""BackendWatcher reports a change when a model is loaded or unloaded, and only then."""

from __future__ import annotations

from functools import partial

import aiohttp

from agent.detect import BackendWatcher, backends_signature, detect_backends
from agent.sim.ollama import OllamaState, SimulatedOllama

from .conftest import Starter


async def test_rescan_reports_changes(
    http: aiohttp.ClientSession, start: Starter[SimulatedOllama]
) -> None:
    sim = await start(SimulatedOllama(OllamaState(models=["a", "b"], loaded=["a"])))
    watcher = BackendWatcher(partial(detect_backends, http, ports=[sim.port]))
    before = watcher.backends
    assert before == ()
    assert await watcher.rescan() is True  # from nothing to one backend
    assert [(m.id, m.loaded) for m in watcher.backends[0].models] == [
        ("a:latest", True),
        ("b:latest", False),
    ]
    assert await watcher.rescan() is False

    sim.state.load("b")
    assert await watcher.rescan() is True
    assert all(m.loaded for m in watcher.backends[0].models)

    # A new expiry time (the keep-alive renewed) is not a change the relay must hear.
    sim.state.load("a")
    assert await watcher.rescan() is False

    sim.state.unload("a")
    assert await watcher.rescan() is True
    await sim.stop()
    assert await watcher.rescan() is True
    before = watcher.backends
    assert before == ()


def test_signature_ignores_order_of_models() -> None:
    from agent.detect import DetectedBackend, ModelInfo

    one = DetectedBackend(
        "ollama", "http://h:1", models=(ModelInfo("a", True), ModelInfo("b", False))
    )
    two = DetectedBackend(
        "ollama", "http://h:1", models=(ModelInfo("b", False), ModelInfo("a", True, 5, "later"))
    )
    assert backends_signature([one]) == backends_signature([two])
    assert backends_signature([one]) != backends_signature([])
