"""detect_backends(): explicit backends first, then a concurrent scan of the given ports."""

from __future__ import annotations

import aiohttp
import pytest

from agent.detect import detect_backends
from agent.sim.llamacpp import SimulatedLlamaCpp
from agent.sim.lmstudio import LMStudioState, SimulatedLMStudio
from agent.sim.ollama import OllamaState, SimulatedOllama
from agent.sim.openai import SimState, SimulatedOpenAI
from agent.sim.vllm import SimulatedVLLM

from .conftest import Starter


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_scan_finds_each_engine_in_port_order(
    http: aiohttp.ClientSession, start: Starter[SimulatedOpenAI], dead_port: int
) -> None:
    sims = [
        await start(SimulatedOllama(OllamaState(models=["llama3.2"]))),
        await start(SimulatedLMStudio(LMStudioState(models=["lm"]))),
        await start(SimulatedLlamaCpp()),
        await start(SimulatedVLLM()),
        await start(SimulatedOpenAI(SimState(models=["generic"]))),
    ]
    kinds = {
        sim.port: kind
        for sim, kind in zip(
            sims, ["ollama", "lmstudio", "llamacpp", "vllm", "openai"], strict=True
        )
    }
    ports = [*reversed(kinds), dead_port, sims[0].port]  # unsorted, a duplicate, a dead one
    found = await detect_backends(http, ports=ports, timeout=1.0)
    assert [(b.root_url, b.kind) for b in found] == [
        (f"http://127.0.0.1:{port}", kinds[port]) for port in sorted(kinds)
    ]
    assert not any(b.explicit for b in found)


async def test_nothing_listening(http: aiohttp.ClientSession, dead_port: int) -> None:
    assert await detect_backends(http, ports=[dead_port]) == []
    assert await detect_backends(http, ports=[dead_port], scan=False) == []


async def test_explicit_first_and_not_scanned_twice(
    http: aiohttp.ClientSession, start: Starter[SimulatedOpenAI]
) -> None:
    ollama = await start(SimulatedOllama(OllamaState(models=["a"])))
    vllm = await start(SimulatedVLLM(api_key="vllm-key"))
    llamacpp = await start(SimulatedLlamaCpp())
    explicit = [(f"http://localhost:{vllm.port}/v1", "vllm-key", "auto")]
    found = await detect_backends(
        http, ports=[ollama.port, vllm.port, llamacpp.port], explicit=explicit
    )
    scanned = sorted([(ollama.port, "ollama"), (llamacpp.port, "llamacpp")])
    assert [(b.kind, b.explicit, port_of(b.root_url)) for b in found] == [
        ("vllm", True, vllm.port),
        *((kind, False, port) for port, kind in scanned),
    ]
    assert found[0].root_url == f"http://localhost:{vllm.port}"
    # The key went to vLLM only, never to the scanned neighbours.
    assert all(r.headers.get("Authorization") == "Bearer vllm-key" for r in vllm.state.requests)
    for other in (ollama, llamacpp):
        assert other.state.requests
        assert all("Authorization" not in r.headers for r in other.state.requests)


async def test_explicit_that_does_not_answer(
    http: aiohttp.ClientSession, dead_port: int, start: Starter[SimulatedOpenAI]
) -> None:
    sim = await start(SimulatedOpenAI(SimState(models=["m"])))
    explicit = [
        (f"http://127.0.0.1:{dead_port}", "k", "auto"),
        (f"http://127.0.0.1:{dead_port}/v1", None, "llamacpp"),
        (sim.base_url, None, "lmstudio"),
    ]
    found = await detect_backends(http, ports=[], explicit=explicit, scan=False)
    assert [(b.kind, b.reachable, b.models) for b in found[:2]] == [
        ("openai", False, ()),
        ("llamacpp", False, ()),
    ]
    assert found[0].to_dict()["has_api_key"] is True
    assert found[2].kind == "lmstudio" and found[2].reachable and found[2].models


async def test_bad_input_raises_before_probing(http: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError):
        await detect_backends(http, ports=[70000])
    with pytest.raises(ValueError):
        await detect_backends(http, ports=[], explicit=[("http://h:1", None, "tgi")])
    with pytest.raises(ValueError):
        await detect_backends(http, ports=[], explicit=[("ftp://h:1", None, "auto")])
