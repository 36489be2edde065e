"""The simulated llama.cpp and vLLM servers: documented endpoints and API key handling."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from agent.sim.llamacpp import LlamaCppState, SimulatedLlamaCpp
from agent.sim.vllm import SimulatedVLLM, VLLMState

PROPS_KEYS = {
    "default_generation_settings",
    "total_slots",
    "model_path",
    "chat_template",
    "chat_template_caps",
    "modalities",
    "build_info",
    "is_sleeping",
}
VLLM_MODEL_KEYS = {
    "id",
    "object",
    "created",
    "owned_by",
    "root",
    "parent",
    "max_model_len",
    "permission",
}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_llamacpp_endpoints(http: aiohttp.ClientSession) -> None:
    sim = SimulatedLlamaCpp(LlamaCppState(models=["llama-3.1-8b"], total_slots=2))
    await sim.start()
    try:
        async with http.get(sim.root_url + "/health") as resp:
            assert await resp.json() == {"status": "ok"}
        async with http.get(sim.root_url + "/props") as resp:
            props = await resp.json()
        assert set(props) == PROPS_KEYS
        assert props["total_slots"] == 2
        assert {"n_ctx", "params"} <= set(props["default_generation_settings"])
        async with http.get(sim.base_url + "/models") as resp:
            listing = await resp.json()
        (model,) = listing["data"]
        assert (model["id"], model["owned_by"]) == ("llama-3.1-8b", "llamacpp")
        assert {"n_ctx_train", "n_params", "size"} <= set(model["meta"])
        sim.state.loading = True
        async with http.get(sim.root_url + "/health") as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["message"] == "Loading model"
    finally:
        await sim.stop()


async def test_llamacpp_api_key(http: aiohttp.ClientSession) -> None:
    sim = SimulatedLlamaCpp(api_key="secret")
    await sim.start()
    try:
        async with http.get(sim.root_url + "/health") as resp:
            assert resp.status == 200  # public
        async with http.get(sim.root_url + "/props") as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["type"] == "authentication_error"
        headers = {"Authorization": "Bearer secret"}
        async with http.get(sim.root_url + "/props", headers=headers) as resp:
            assert resp.status == 200
    finally:
        await sim.stop()


async def test_vllm_endpoints(http: aiohttp.ClientSession) -> None:
    sim = SimulatedVLLM(VLLMState(models=["qwen"], roots={"qwen": "Qwen/Qwen2.5-7B"}))
    await sim.start()
    try:
        async with http.get(sim.root_url + "/version") as resp:
            assert await resp.json() == {"version": "0.6.4.post1"}
        async with http.get(sim.root_url + "/health") as resp:
            assert resp.status == 200 and await resp.read() == b""
        async with http.get(sim.base_url + "/models") as resp:
            (model,) = (await resp.json())["data"]
        assert set(model) == VLLM_MODEL_KEYS
        assert (model["owned_by"], model["root"], model["max_model_len"]) == (
            "vllm",
            "Qwen/Qwen2.5-7B",
            32768,
        )
        assert model["permission"][0]["object"] == "model_permission"
    finally:
        await sim.stop()


async def test_vllm_api_key_guards_only_v1(http: aiohttp.ClientSession) -> None:
    sim = SimulatedVLLM(api_key="k")
    await sim.start()
    try:
        async with http.get(sim.root_url + "/version") as resp:
            assert resp.status == 200
        async with http.get(sim.base_url + "/models") as resp:
            assert resp.status == 401
            assert await resp.json() == {"error": "Unauthorized"}
        async with http.get(
            sim.base_url + "/models", headers={"Authorization": "Bearer k"}
        ) as resp:
            assert resp.status == 200
        recorded = [(r.path, r.headers.get("Authorization")) for r in sim.state.requests]
        assert recorded == [("/version", None), ("/v1/models", None), ("/v1/models", "Bearer k")]
    finally:
        await sim.stop()
