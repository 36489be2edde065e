"""The simulated LM Studio: REST API v0 shapes, its 200-for-anything habit, the quirks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from agent.sim.lmstudio import LMStudioModel, LMStudioState, SimulatedLMStudio

MODEL_KEYS = {
    "id",
    "object",
    "type",
    "publisher",
    "arch",
    "compatibility_type",
    "quantization",
    "state",
    "max_context_length",
}
CATALOG = [
    LMStudioModel(
        "qwen2-vl-7b-instruct",
        type="vlm",
        publisher="mlx-community",
        arch="qwen2_vl",
        compatibility_type="mlx",
        quantization="4bit",
        max_context_length=32768,
    ),
    LMStudioModel("meta-llama-3.1-8b-instruct", state="loaded"),
    LMStudioModel(
        "text-embedding-nomic-embed-text-v1.5",
        type="embeddings",
        publisher="nomic-ai",
        arch="nomic-bert",
        quantization="Q4_0",
        max_context_length=2048,
    ),
]
CHAT = {
    "model": "meta-llama-3.1-8b-instruct",
    "max_tokens": 3,
    "messages": [{"role": "user", "content": "hi"}],
}


def catalog() -> list[LMStudioModel]:
    return [LMStudioModel(**vars(m)) for m in CATALOG]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def started(state: LMStudioState) -> SimulatedLMStudio:
    sim = SimulatedLMStudio(state)
    await sim.start()
    return sim


@pytest.fixture
async def lms() -> AsyncIterator[SimulatedLMStudio]:
    sim = await started(LMStudioState(catalog=catalog()))
    yield sim
    await sim.stop()


async def sse(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> list[str]:
    async with http.post(url, json=body) as resp:
        assert resp.content_type == "text/event-stream"
        text = await resp.text()
    return [line.removeprefix("data: ") for line in text.split("\n\n") if line]


async def test_v0_models(lms: SimulatedLMStudio, http: aiohttp.ClientSession) -> None:
    async with http.get(lms.root_url + "/api/v0/models") as resp:
        listing = await resp.json()
    assert listing["object"] == "list"
    assert all(set(m) == MODEL_KEYS for m in listing["data"])
    assert [(m["type"], m["state"]) for m in listing["data"]] == [
        ("vlm", "not-loaded"),
        ("llm", "loaded"),
        ("embeddings", "not-loaded"),
    ]
    async with http.get(lms.root_url + "/api/v0/models/qwen2-vl-7b-instruct") as resp:
        one = await resp.json()
    assert one == listing["data"][0]
    async with http.get(lms.root_url + "/api/v0/models/nope") as resp:
        assert resp.status == 404
        assert "error" in await resp.json()


async def test_unknown_route_answers_200(
    lms: SimulatedLMStudio, http: aiohttp.ClientSession
) -> None:
    async with http.get(lms.root_url + "/api/version") as resp:
        assert resp.status == 200
        assert await resp.json() == {"error": "Unexpected endpoint or method. (GET /api/version)"}
    async with http.post(lms.root_url + "/api/chat", json={}) as resp:
        assert (await resp.json())["error"].endswith("(POST /api/chat)")


async def test_v0_chat_has_stats(lms: SimulatedLMStudio, http: aiohttp.ClientSession) -> None:
    async with http.post(lms.root_url + "/api/v0/chat/completions", json=CHAT) as resp:
        answer = await resp.json()
    assert {"stats", "model_info", "runtime", "usage", "choices"} <= set(answer)
    assert answer["choices"][0]["message"]["content"] == "w0 w1 w2 "
    async with http.post(
        lms.root_url + "/api/v0/completions",
        json={"model": CHAT["model"], "prompt": "x", "max_tokens": 1},
    ) as resp:
        assert (await resp.json())["object"] == "text_completion"


async def test_v1_models_and_jit_loading(
    lms: SimulatedLMStudio, http: aiohttp.ClientSession
) -> None:
    async with http.get(lms.base_url + "/models") as resp:
        listing = await resp.json()
    assert {m["owned_by"] for m in listing["data"]} == {"organization_owner"}
    assert len(listing["data"]) == 3  # just-in-time loading lists every download
    body = {**CHAT, "model": "qwen2-vl-7b-instruct"}
    async with http.post(lms.base_url + "/chat/completions", json=body) as resp:
        assert resp.status == 200
    assert lms.state.find("qwen2-vl-7b-instruct").state == "loaded"  # type: ignore[union-attr]


async def test_without_jit_only_loaded_models(http: aiohttp.ClientSession) -> None:
    sim = await started(LMStudioState(catalog=catalog(), jit_load=False))
    try:
        async with http.get(sim.base_url + "/models") as resp:
            assert [m["id"] for m in (await resp.json())["data"]] == [CHAT["model"]]
        body = {**CHAT, "model": "qwen2-vl-7b-instruct"}
        async with http.post(sim.base_url + "/chat/completions", json=body) as resp:
            assert resp.status == 404
    finally:
        await sim.stop()


async def test_stream_is_normal_by_default(
    lms: SimulatedLMStudio, http: aiohttp.ClientSession
) -> None:
    events = await sse(http, lms.base_url + "/chat/completions", {**CHAT, "stream": True})
    assert events[-1] == "[DONE]"
    assert all("usage" not in orjson.loads(e) for e in events[:-1])


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/v0/chat/completions"])
async def test_quirks(http: aiohttp.ClientSession, path: str) -> None:
    state = LMStudioState(catalog=catalog(), omit_done=True, always_usage=True)
    sim = await started(state)
    try:
        events = await sse(http, sim.root_url + path, {**CHAT, "stream": True})
    finally:
        await sim.stop()
    assert "[DONE]" not in events
    last = orjson.loads(events[-1])
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 3


def test_state_defaults_and_changes() -> None:
    state = LMStudioState(models=["a", "b"])
    assert [m.state for m in state.downloaded] == ["loaded", "loaded"]
    state.unload("a")
    assert state.find("a").state == "not-loaded"  # type: ignore[union-attr]
    assert state.models == ["a", "b"]
