"""The simulated Ollama answers in the shapes of Ollama's docs/api.md."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from agent.sim.ollama import OllamaModel, OllamaState, SimulatedOllama, qualify

TAG_KEYS = {"name", "model", "modified_at", "size", "digest", "details"}
DETAIL_KEYS = {
    "parent_model",
    "format",
    "family",
    "families",
    "parameter_size",
    "quantization_level",
}
STAT_KEYS = {
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
}
CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "why is the sky blue"}]}


@pytest.fixture
async def ollama() -> AsyncIterator[SimulatedOllama]:
    state = OllamaState(models=["llama3.2:latest", "qwen2.5:7b"], loaded=["llama3.2"])
    sim = SimulatedOllama(state)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as resp:
        assert resp.status == 200
        return await resp.json()


async def post_lines(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> tuple[int, str, list[dict[str, Any]]]:
    async with http.post(url, json=body) as resp:
        text = await resp.text()
        return resp.status, resp.content_type, [orjson.loads(x) for x in text.splitlines() if x]


def test_qualify() -> None:
    assert qualify("llama3.2") == "llama3.2:latest"
    assert qualify("qwen2.5:7b") == "qwen2.5:7b"
    assert qualify("registry.local:5000/me/model") == "registry.local:5000/me/model:latest"


async def test_listing_endpoints(ollama: SimulatedOllama, http: aiohttp.ClientSession) -> None:
    assert await get(http, ollama.root_url + "/api/version") == {"version": "0.5.7"}
    async with http.get(ollama.root_url + "/") as resp:
        assert await resp.text() == "Ollama is running"
    tags = await get(http, ollama.root_url + "/api/tags")
    assert [m["name"] for m in tags["models"]] == ["llama3.2:latest", "qwen2.5:7b"]
    for model in tags["models"]:
        assert set(model) == TAG_KEYS
        assert set(model["details"]) == DETAIL_KEYS
        assert len(model["digest"]) == 64
    ps = await get(http, ollama.root_url + "/api/ps")
    assert [m["name"] for m in ps["models"]] == ["llama3.2:latest"]
    assert set(ps["models"][0]) == (TAG_KEYS - {"modified_at"}) | {
        "expires_at",
        "size_vram",
        "context_length",
    }
    assert ps["models"][0]["size_vram"] > 0


async def test_chat_streams_ndjson(ollama: SimulatedOllama, http: aiohttp.ClientSession) -> None:
    body = {**CHAT, "options": {"num_predict": 3}}
    status, ctype, lines = await post_lines(http, ollama.root_url + "/api/chat", body)
    assert (status, ctype) == (200, "application/x-ndjson")
    assert [x["message"]["content"] for x in lines[:-1]] == ["w0 ", "w1 ", "w2 "]
    assert all(x["done"] is False and x["model"] == "llama3.2:latest" for x in lines[:-1])
    last = lines[-1]
    assert last["done"] is True and last["done_reason"] == "length"
    assert set(last) >= STAT_KEYS
    assert last["eval_count"] == 3 and last["prompt_eval_count"] == 5


async def test_chat_not_streamed(ollama: SimulatedOllama, http: aiohttp.ClientSession) -> None:
    status, ctype, lines = await post_lines(
        http, ollama.root_url + "/api/chat", {**CHAT, "stream": False}
    )
    assert (status, ctype, len(lines)) == (200, "application/json", 1)
    answer = lines[0]
    assert answer["message"] == {
        "role": "assistant",
        "content": "".join(f"w{i} " for i in range(16)),
    }
    assert answer["done"] is True and answer["done_reason"] == "stop"
    assert set(answer) >= STAT_KEYS


async def test_chat_tool_call(ollama: SimulatedOllama, http: aiohttp.ClientSession) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    _, _, lines = await post_lines(
        http, ollama.root_url + "/api/chat", {**CHAT, "stream": False, "tools": tools}
    )
    calls = lines[0]["message"]["tool_calls"]
    assert calls == [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]


async def test_generate(ollama: SimulatedOllama, http: aiohttp.ClientSession) -> None:
    body = {"model": "qwen2.5:7b", "prompt": "hello there", "options": {"num_predict": 2}}
    _, _, lines = await post_lines(http, ollama.root_url + "/api/generate", body)
    assert [x["response"] for x in lines] == ["w0 ", "w1 ", ""]
    assert lines[-1]["done"] is True and lines[-1]["context"] == [1, 2, 3]
    assert set(lines[-1]) >= STAT_KEYS
    _, _, single = await post_lines(
        http, ollama.root_url + "/api/generate", {**body, "stream": False}
    )
    assert single[0]["response"] == "w0 w1 " and single[0]["done"] is True
    # A request loads the model it names, as Ollama does.
    assert "qwen2.5:7b" in ollama.state.loaded


async def test_load_and_unload(ollama: SimulatedOllama, http: aiohttp.ClientSession) -> None:
    url = ollama.root_url + "/api/generate"
    _, _, lines = await post_lines(http, url, {"model": "qwen2.5:7b"})
    assert lines == [
        {
            "model": "qwen2.5:7b",
            "created_at": lines[0]["created_at"],
            "response": "",
            "done_reason": "load",
            "done": True,
        }
    ]
    ps = await get(http, ollama.root_url + "/api/ps")
    assert {m["name"] for m in ps["models"]} == {"llama3.2:latest", "qwen2.5:7b"}
    _, _, lines = await post_lines(
        http, ollama.root_url + "/api/chat", {"model": "llama3.2", "messages": [], "keep_alive": 0}
    )
    assert lines[0]["done_reason"] == "unload"
    ps = await get(http, ollama.root_url + "/api/ps")
    assert [m["name"] for m in ps["models"]] == ["qwen2.5:7b"]


async def test_embed(ollama: SimulatedOllama, http: aiohttp.ClientSession) -> None:
    async with http.post(
        ollama.root_url + "/api/embed", json={"model": "llama3.2", "input": ["a b", "c"]}
    ) as resp:
        answer = await resp.json()
    assert set(answer) == {
        "model",
        "embeddings",
        "total_duration",
        "load_duration",
        "prompt_eval_count",
    }
    assert len(answer["embeddings"]) == 2
    assert all(isinstance(v, float) for v in answer["embeddings"][0])


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({**CHAT, "model": "nope"}, 404, 'model "nope" not found, try pulling it first'),
        ({"messages": []}, 400, "model is required"),
        ({**CHAT, "sim_status": 503}, 503, "simulated failure 503"),
    ],
)
async def test_errors(
    ollama: SimulatedOllama,
    http: aiohttp.ClientSession,
    body: dict[str, Any],
    status: int,
    error: str,
) -> None:
    async with http.post(ollama.root_url + "/api/chat", json=body) as resp:
        assert resp.status == status
        assert await resp.json() == {"error": error}


async def test_bad_json_is_400(ollama: SimulatedOllama, http: aiohttp.ClientSession) -> None:
    async with http.post(ollama.root_url + "/api/chat", data=b"{nope") as resp:
        assert resp.status == 400
        assert set(await resp.json()) == {"error"}


async def test_openai_compat_routes(ollama: SimulatedOllama, http: aiohttp.ClientSession) -> None:
    listing = await get(http, ollama.base_url + "/models")
    assert [(m["id"], m["owned_by"]) for m in listing["data"]] == [
        ("llama3.2:latest", "library"),
        ("qwen2.5:7b", "library"),
    ]
    async with http.post(
        ollama.base_url + "/chat/completions", json={**CHAT, "max_tokens": 2}
    ) as resp:
        answer = await resp.json()
    assert answer["choices"][0]["message"]["content"] == "w0 w1 "


async def test_records_requests_and_disconnects(
    ollama: SimulatedOllama, http: aiohttp.ClientSession
) -> None:
    await get(http, ollama.root_url + "/api/tags")
    body = {**CHAT, "sim_token_delay_ms": 200}
    async with http.post(ollama.root_url + "/api/chat", json=body) as resp:
        await resp.content.readline()  # the first token, then hang up
    await asyncio.wait_for(ollama.state.disconnected.wait(), 5)
    assert ollama.state.disconnects == 1
    paths = [r.path for r in ollama.state.requests]
    assert paths == ["/api/tags", "/api/chat"]
    assert ollama.state.requests[1].body["model"] == "llama3.2:latest"


def test_state_pull_and_defaults() -> None:
    state = OllamaState()
    assert [m.name for m in state.pulled] == ["sim-model:latest"]
    state.pull(OllamaModel("mistral:7b"))
    assert "mistral:7b" in state.models and "sim-model" in state.models
