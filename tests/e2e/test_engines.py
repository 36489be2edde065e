"""Every engine the agent knows, found by the agent and driven through the relay with the
official SDK: Ollama (translated from its native API), LM Studio, llama.cpp and vLLM
(OpenAI-compatible, passed through)."""

from __future__ import annotations

import json
from collections.abc import Callable

import openai
import pytest

from agent.sim._common import EngineSim
from tests.e2e.engines import Engine
from tests.harness import AgentProc, Circle, RelayProc, wait_for_model

MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
def client(
    engine: tuple[Engine, EngineSim],
    relay: RelayProc,
    circle: Circle,
    start_agent: Callable[..., AgentProc],
) -> openai.OpenAI:
    spec, sim = engine
    # the backend given by its root URL, without /v1: the agent fingerprints it
    start_agent(relay.url, circle.node_token, sim.root_url)
    wait_for_model(relay.url, circle.api_key, spec.model)
    return openai.OpenAI(base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0)


def test_chat(engine: tuple[Engine, EngineSim], client: openai.OpenAI) -> None:
    spec, _ = engine
    answer = client.chat.completions.create(model=spec.model, messages=MESSAGES, max_tokens=4)
    assert answer.choices[0].message.content == "w0 w1 w2 w3 "
    assert answer.object == "chat.completion"
    assert answer.usage is not None and answer.usage.completion_tokens == 4


def test_chat_stream(engine: tuple[Engine, EngineSim], client: openai.OpenAI) -> None:
    spec, _ = engine
    chunks = list(
        client.chat.completions.create(
            model=spec.model,
            messages=MESSAGES,
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "w0 w1 w2 w3 w4 w5 "
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6


def test_completions(engine: tuple[Engine, EngineSim], client: openai.OpenAI) -> None:
    spec, _ = engine
    done = client.completions.create(model=spec.model, prompt="Once upon a time", max_tokens=3)
    assert done.choices[0].text == "w0 w1 w2 "
    streamed = client.completions.create(model=spec.model, prompt="Once", max_tokens=3, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "w0 w1 w2 "


def test_tool_calls(engine: tuple[Engine, EngineSim], client: openai.OpenAI) -> None:
    spec, _ = engine
    answer = client.chat.completions.create(model=spec.model, messages=MESSAGES, tools=TOOLS)
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id
    # and the tool's result goes back in the next turn
    follow_up = [
        *MESSAGES,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    again = client.chat.completions.create(model=spec.model, messages=follow_up, max_tokens=2)
    assert again.choices[0].message.content == "w0 w1 "


def test_streamed_tool_calls(engine: tuple[Engine, EngineSim], client: openai.OpenAI) -> None:
    spec, _ = engine
    chunks = list(
        client.chat.completions.create(
            model=spec.model, messages=MESSAGES, tools=TOOLS, stream=True
        )
    )
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    name = "".join(tc.function.name or "" for tc in calls if tc.function)
    arguments = "".join(tc.function.arguments or "" for tc in calls if tc.function)
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_embeddings(engine: tuple[Engine, EngineSim], client: openai.OpenAI) -> None:
    spec, _ = engine
    model = "nomic-embed-text" if spec.name == "ollama" else spec.model
    result = client.embeddings.create(model=model, input=["hello", "world"])
    assert [d.index for d in result.data] == [0, 1]
    assert all(len(d.embedding) > 0 for d in result.data)
    assert result.data[0].embedding != result.data[1].embedding
