"""fingerprint() tells each simulated engine apart and reads its models' loaded state."""

from __future__ import annotations

import time

import aiohttp
import pytest
from aiohttp import web

from agent.detect import ModelInfo, fingerprint
from agent.sim.llamacpp import LlamaCppState, SimulatedLlamaCpp
from agent.sim.lmstudio import LMStudioModel, LMStudioState, SimulatedLMStudio
from agent.sim.ollama import OllamaState, SimulatedOllama
from agent.sim.openai import SimState, SimulatedOpenAI
from agent.sim.vllm import SimulatedVLLM, VLLMState

from .conftest import Starter


async def test_ollama(http: aiohttp.ClientSession, start: Starter[SimulatedOllama]) -> None:
    sim = await start(
        SimulatedOllama(OllamaState(models=["llama3.2", "qwen2.5:7b"], loaded=["qwen2.5:7b"]))
    )
    found = await fingerprint(http, sim.root_url)
    assert found is not None
    assert (found.kind, found.root_url, found.version) == ("ollama", sim.root_url, "0.5.7")
    llama, qwen = found.models
    assert llama == ModelInfo("llama3.2:latest", loaded=False)
    assert (qwen.id, qwen.loaded) == ("qwen2.5:7b", True)
    assert qwen.size_vram == 4_920_753_328 and qwen.expires_at
    assert [r.path for r in sim.state.requests] == ["/api/version", "/api/tags", "/api/ps"]


async def test_lmstudio(http: aiohttp.ClientSession, start: Starter[SimulatedLMStudio]) -> None:
    catalog = [
        LMStudioModel("a", state="loaded"),
        LMStudioModel("b"),
        LMStudioModel("emb", type="embeddings"),
    ]
    sim = await start(SimulatedLMStudio(LMStudioState(catalog=catalog)))
    found = await fingerprint(http, sim.root_url)
    assert found is not None and found.kind == "lmstudio"
    assert found.models == (ModelInfo("a", True), ModelInfo("b", False), ModelInfo("emb", False))


async def test_llamacpp(http: aiohttp.ClientSession, start: Starter[SimulatedLlamaCpp]) -> None:
    sim = await start(SimulatedLlamaCpp(LlamaCppState(models=["my-alias"])))
    found = await fingerprint(http, sim.base_url)  # given with /v1
    assert found is not None
    assert (found.kind, found.root_url, found.version) == (
        "llamacpp",
        sim.root_url,
        "b4500-adc5f0f0",
    )
    assert found.models == (ModelInfo("my-alias", True),)


async def test_vllm(http: aiohttp.ClientSession, start: Starter[SimulatedVLLM]) -> None:
    sim = await start(SimulatedVLLM(VLLMState(models=["m1", "m2"])))
    found = await fingerprint(http, sim.root_url + "/")
    assert found is not None
    assert (found.kind, found.version) == ("vllm", "0.6.4.post1")
    assert [m.id for m in found.models] == ["m1", "m2"] and all(m.loaded for m in found.models)


async def test_generic_openai(http: aiohttp.ClientSession, start: Starter[SimulatedOpenAI]) -> None:
    sim = await start(SimulatedOpenAI(SimState(models=["x", "y"])))
    found = await fingerprint(http, sim.base_url)
    assert found is not None and found.kind == "openai" and found.version is None
    assert found.models == (ModelInfo("x", True), ModelInfo("y", True))
    assert found.openai_base == sim.base_url


async def test_api_key_and_forced_kind(
    http: aiohttp.ClientSession, start: Starter[SimulatedVLLM]
) -> None:
    sim = await start(SimulatedVLLM(api_key="sk-1"))
    assert await fingerprint(http, sim.root_url) is None  # /v1/models refused
    found = await fingerprint(http, sim.root_url, "sk-1", explicit=True)
    assert found is not None and found.kind == "vllm" and found.explicit
    assert found.api_key == "sk-1"
    forced = await fingerprint(http, sim.root_url, "sk-1", kind="openai")
    assert forced is not None and forced.kind == "openai" and len(forced.models) == 1


async def test_forced_kind_still_lists_models(
    http: aiohttp.ClientSession, start: Starter[SimulatedOpenAI]
) -> None:
    sim = await start(SimulatedOpenAI(SimState(models=["z"])))
    found = await fingerprint(http, sim.base_url, kind="vllm")
    assert found is not None and found.kind == "vllm" and found.models == (ModelInfo("z", True),)
    with pytest.raises(ValueError, match="unknown backend kind"):
        await fingerprint(http, sim.base_url, kind="tgi")


async def test_nothing_listening(http: aiohttp.ClientSession, dead_port: int) -> None:
    assert await fingerprint(http, f"http://127.0.0.1:{dead_port}") is None


async def test_silent_server_times_out_once(http: aiohttp.ClientSession, silent_port: int) -> None:
    began = time.monotonic()
    assert await fingerprint(http, f"http://127.0.0.1:{silent_port}", timeout=0.3) is None
    assert time.monotonic() - began < 1.2  # gave up after the first probe (5 would be 1.5 s)


async def test_junk_answers_are_not_backends(http: aiohttp.ClientSession) -> None:
    async def junk(request: web.Request) -> web.Response:
        if request.path == "/api/version":
            return web.Response(text="<html>not json</html>")
        if request.path == "/v1/models":
            return web.json_response({"data": "nope"})
        return web.json_response({"version": 3}, status=200)

    app = web.Application()
    app.router.add_get("/{tail:.*}", junk)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        assert await fingerprint(http, f"http://127.0.0.1:{port}") is None
    finally:
        await runner.cleanup()


async def test_hostile_model_ids_are_dropped(
    http: aiohttp.ClientSession, start: Starter[SimulatedOpenAI]
) -> None:
    sim = await start(SimulatedOpenAI(SimState(models=["ok", "bad\x1b[31m", "x" * 600])))
    found = await fingerprint(http, sim.base_url)
    assert found is not None and [m.id for m in found.models] == ["ok"]
