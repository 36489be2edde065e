"""plan_request: OpenAI request -> Ollama native request."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from agent.translate.ollama import TranslationError, plan_request

CHAT = "/v1/chat/completions"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()
USER_HI = [{"role": "user", "content": "hi"}]


def chat(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "llama3.2", "messages": USER_HI, **fields}
    return orjson.loads(plan_request(CHAT, orjson.dumps(body)).payload)


def rejects(route: str, body: Any, param: str | None = None) -> TranslationError:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    with pytest.raises(TranslationError) as info:
        plan_request(route, raw)
    assert info.value.status == 400
    if param is not None:
        assert info.value.param == param
    return info.value


def test_chat_plan_basics() -> None:
    body = b'{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}'
    plan = plan_request(CHAT, body)
    assert (plan.path, plan.kind, plan.model, plan.stream, plan.include_usage) == (
        "/api/chat",
        "chat",
        "llama3.2",
        False,
        False,
    )
    # stream is always explicit: Ollama streams by default
    assert plan.payload == (
        b'{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false}'
    )


def test_stream_and_include_usage() -> None:
    body = {"model": "m", "messages": USER_HI, "stream": True}
    plan = plan_request(CHAT, orjson.dumps({**body, "stream_options": {"include_usage": True}}))
    assert plan.stream and plan.include_usage
    assert orjson.loads(plan.payload)["stream"] is True
    assert not plan_request(CHAT, orjson.dumps(body)).include_usage


def test_sampling_options() -> None:
    got = chat(
        temperature=0.7,
        top_p=0.9,
        max_tokens=100,
        seed=42,
        frequency_penalty=0.5,
        presence_penalty=1.5,
        stop=["\n", "user:"],
    )
    assert got["options"] == {
        "temperature": 0.7,
        "top_p": 0.9,
        "frequency_penalty": 0.5,
        "presence_penalty": 1.5,
        "num_predict": 100,
        "seed": 42,
        "stop": ["\n", "user:"],
    }


def test_max_completion_tokens_wins_and_stop_string_becomes_list() -> None:
    got = chat(max_tokens=10, max_completion_tokens=20, stop="END")
    assert got["options"] == {"num_predict": 20, "stop": ["END"]}


def test_no_options_means_model_defaults() -> None:
    assert "options" not in chat(temperature=None, stop=None)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ({"type": "json_object"}, "json"),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            {"type": "object"},
        ),
    ],
)
def test_response_format(fmt: dict[str, Any], expected: object) -> None:
    assert chat(response_format=fmt)["format"] == expected


def test_response_format_text_is_default() -> None:
    assert "format" not in chat(response_format={"type": "text"})


def test_image_parts_become_base64_images() -> None:
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "text", "text": "Be brief."},
    ]
    got = chat(messages=[{"role": "user", "content": content}])
    assert got["messages"] == [
        {"role": "user", "content": "What is in this picture?\nBe brief.", "images": [PNG]}
    ]


def test_remote_image_url_is_rejected() -> None:
    content = [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    err = rejects(
        CHAT,
        {"model": "m", "messages": [{"role": "user", "content": content}]},
        "messages[0].content[0].image_url",
    )
    assert "base64" in err.message


@pytest.mark.parametrize("url", ["data:image/png,rawbytes", "data:image/png;base64,***"])
def test_bad_data_urls_are_rejected(url: str) -> None:
    content = [{"type": "image_url", "image_url": {"url": url}}]
    rejects(CHAT, {"model": "m", "messages": [{"role": "user", "content": content}]})


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather for a location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


def test_tools_round_trip() -> None:
    messages = [
        {"role": "developer", "content": "Be terse."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "get_current_weather",
                        "arguments": '{"location":"Paris, FR"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "22C sunny"},
    ]
    got = chat(messages=messages, tools=[WEATHER_TOOL])
    assert got["tools"] == [WEATHER_TOOL]
    assert got["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "function": {
                        "name": "get_current_weather",
                        "arguments": {"location": "Paris, FR"},
                    }
                }
            ],
        },
        {"role": "tool", "content": "22C sunny", "tool_name": "get_current_weather"},
    ]


def test_tool_message_with_unknown_call_id_has_no_tool_name() -> None:
    messages = [*USER_HI, {"role": "tool", "tool_call_id": "nope", "content": "x"}]
    assert chat(messages=messages)["messages"][1] == {"role": "tool", "content": "x"}


def test_tool_choice_none_drops_tools() -> None:
    assert "tools" not in chat(tools=[WEATHER_TOOL], tool_choice="none")


def test_bad_tool_arguments_are_rejected() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    messages = [*USER_HI, {"role": "assistant", "content": "", "tool_calls": [call]}]
    rejects(
        CHAT, {"model": "m", "messages": messages}, "messages[1].tool_calls[0].function.arguments"
    )


def test_completion_plan() -> None:
    body = b'{"model":"codellama:code","prompt":["def f():"],"suffix":"  return x","max_tokens":5}'
    plan = plan_request("/v1/completions", body)
    assert (plan.path, plan.kind) == ("/api/generate", "completion")
    assert plan.payload == (
        b'{"model":"codellama:code","prompt":"def f():","suffix":"  return x",'
        b'"options":{"num_predict":5},"stream":false}'
    )


def test_embeddings_plan() -> None:
    body = b'{"model":"all-minilm","input":["a","b"],"dimensions":3,"encoding_format":"base64"}'
    plan = plan_request("/v1/embeddings", body)
    assert (plan.path, plan.kind, plan.stream, plan.encoding_format) == (
        "/api/embed",
        "embeddings",
        False,
        "base64",
    )
    assert plan.payload == b'{"model":"all-minilm","input":["a","b"],"dimensions":3}'


@pytest.mark.parametrize(
    ("route", "body", "param"),
    [
        (CHAT, b"{not json", None),
        (CHAT, b"[1, 2]", None),
        (CHAT, {"messages": USER_HI}, "model"),
        (CHAT, {"model": "m"}, "messages"),
        (CHAT, {"model": "m", "messages": []}, "messages"),
        (
            CHAT,
            {"model": "m", "messages": [{"role": "wizard", "content": "x"}]},
            "messages[0].role",
        ),
        (CHAT, {"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (CHAT, {"model": "m", "messages": USER_HI, "stream": "yes"}, "stream"),
        (CHAT, {"model": "m", "messages": USER_HI, "temperature": "hot"}, "temperature"),
        (CHAT, {"model": "m", "messages": USER_HI, "max_tokens": 0}, "max_tokens"),
        (CHAT, {"model": "m", "messages": USER_HI, "seed": 1.5}, "seed"),
        (CHAT, {"model": "m", "messages": USER_HI, "stop": [1]}, "stop"),
        (CHAT, {"model": "m", "messages": USER_HI, "n": 2}, "n"),
        (CHAT, {"model": "m", "messages": USER_HI, "tools": [{"type": "x"}]}, "tools"),
        (
            CHAT,
            {"model": "m", "messages": USER_HI, "response_format": {"type": "json_schema"}},
            "response_format.json_schema.schema",
        ),
        (CHAT, {"model": "m", "messages": USER_HI, "response_format": {"type": "xml"}}, None),
        ("/v1/completions", {"model": "m", "prompt": [1, 2, 3]}, "prompt"),
        ("/v1/completions", {"model": "m", "prompt": ["a", "b"]}, "prompt"),
        ("/v1/embeddings", {"model": "m", "input": []}, "input"),
        ("/v1/embeddings", {"model": "m", "input": [[1, 2]]}, "input"),
        ("/v1/embeddings", {"model": "m", "input": "a", "encoding_format": "int8"}, None),
    ],
)
def test_invalid_requests(route: str, body: Any, param: str | None) -> None:
    err = rejects(route, body, param)
    assert orjson.loads(err.body())["error"]["type"] == "invalid_request_error"


def test_unknown_route_is_404() -> None:
    with pytest.raises(TranslationError) as info:
        plan_request("/v1/audio/speech", b"{}")
    assert info.value.status == 404
