"""The OpenAI gateway end to end: the official SDK -> relay -> tunnel -> agent -> backend."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from tests.harness import AgentProc, Circle, RelayProc, SimBackend

pytestmark = pytest.mark.usefixtures("agent")

MESSAGES = [{"role": "user", "content": "say something"}]
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


def client(relay: RelayProc, circle: Circle) -> openai.OpenAI:
    return openai.OpenAI(base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0)


def test_models_lists_the_groups_models(relay: RelayProc, circle: Circle) -> None:
    models = client(relay, circle).models.list()
    assert [m.id for m in models.data] == ["sim-model"]
    assert models.data[0].object == "model"


def test_chat_non_streaming(relay: RelayProc, circle: Circle) -> None:
    answer = client(relay, circle).chat.completions.create(
        model="sim-model", messages=MESSAGES, max_tokens=5
    )
    assert answer.choices[0].message.content == "w0 w1 w2 w3 w4 "
    assert answer.usage is not None and answer.usage.completion_tokens == 5


def test_chat_streaming_arrives_token_by_token(relay: RelayProc, circle: Circle) -> None:
    stream = client(relay, circle).chat.completions.create(
        model="sim-model",
        messages=MESSAGES,
        max_tokens=20,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(f"w{i} " for i in range(20))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 20


def test_stream_ends_with_done(relay: RelayProc, circle: Circle) -> None:
    body = {"model": "sim-model", "messages": MESSAGES, "max_tokens": 3, "stream": True}
    with httpx.stream(
        "POST",
        relay.url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {circle.api_key}"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(response.iter_bytes())
    events = [e for e in raw.split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    assert len(events) == 1 + 3 + 1 + 1  # role, 3 tokens, finish, [DONE]


def test_completions_streaming_and_not(relay: RelayProc, circle: Circle) -> None:
    c = client(relay, circle)
    done = c.completions.create(model="sim-model", prompt="once upon", max_tokens=4)
    assert done.choices[0].text == "w0 w1 w2 w3 "
    streamed = c.completions.create(model="sim-model", prompt="once", max_tokens=4, stream=True)
    assert "".join(ch.choices[0].text for ch in streamed) == "w0 w1 w2 w3 "


def test_embeddings(relay: RelayProc, circle: Circle) -> None:
    result = client(relay, circle).embeddings.create(model="sim-model", input=["a", "b"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 8


def test_tools_and_unknown_fields_pass_through_untouched(
    relay: RelayProc, circle: Circle, sim: SimBackend
) -> None:
    answer = client(relay, circle).chat.completions.create(
        model="sim-model",
        messages=MESSAGES,
        tools=TOOLS,
        tool_choice="auto",
        response_format={"type": "text"},
        logprobs=False,
        seed=7,
        extra_body={"x_vendor_option": {"nested": [1, 2, 3]}},
    )
    call = answer.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    seen = sim.state.requests[-1]
    assert seen.body["tools"] == TOOLS
    assert seen.body["x_vendor_option"] == {"nested": [1, 2, 3]}
    assert seen.body["seed"] == 7
    # the consumer's credentials never reach the backend
    assert "authorization" not in {k.lower() for k in seen.headers}


def test_streamed_tool_calls(relay: RelayProc, circle: Circle) -> None:
    stream = client(relay, circle).chat.completions.create(
        model="sim-model", messages=MESSAGES, tools=TOOLS, stream=True
    )
    calls = [tc for ch in stream if ch.choices for tc in (ch.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "get_weather"


async def test_async_sdk_concurrent_streams(relay: RelayProc, circle: Circle) -> None:
    async with openai.AsyncOpenAI(
        base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0
    ) as c:

        async def one(n: int) -> str:
            stream = await c.chat.completions.create(
                model="sim-model", messages=MESSAGES, max_tokens=n, stream=True
            )
            return "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])

        texts = await asyncio.gather(*(one(n) for n in range(1, 21)))
    assert texts == ["".join(f"w{i} " for i in range(n)) for n in range(1, 21)]


def test_unknown_model_is_404_model_not_found(relay: RelayProc, circle: Circle) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client(relay, circle).chat.completions.create(model="nope", messages=MESSAGES)
    assert info.value.code == "model_not_found"
    assert set(info.value.body) >= {"message", "type", "param", "code"}


def test_backend_error_status_passes_through(relay: RelayProc, circle: Circle) -> None:
    with pytest.raises(openai.RateLimitError):
        client(relay, circle).chat.completions.create(
            model="sim-model", messages=MESSAGES, extra_body={"sim_status": 429}
        )


def test_bad_json_is_400(relay: RelayProc, circle: Circle) -> None:
    response = httpx.post(
        relay.url + "/v1/chat/completions",
        content=b"{not json",
        headers={"Authorization": f"Bearer {circle.api_key}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_missing_model_is_400_naming_the_param(relay: RelayProc, circle: Circle) -> None:
    response = httpx.post(
        relay.url + "/v1/chat/completions",
        json={"messages": MESSAGES},
        headers={"Authorization": f"Bearer {circle.api_key}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


def test_agent_logs_show_no_secrets(agent: AgentProc, circle: Circle, relay: RelayProc) -> None:
    client(relay, circle).chat.completions.create(model="sim-model", messages=MESSAGES)
    assert circle.node_token not in agent.output()
    assert circle.api_key not in agent.output()
    assert circle.api_key not in relay.output()
