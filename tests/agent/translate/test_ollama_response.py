"""translate_response / translate_error: exact OpenAI JSON for Ollama answers."""

from __future__ import annotations

import base64
import struct

import orjson
import pytest

from agent.translate.ollama import (
    OllamaPlan,
    plan_request,
    tool_call_id,
    translate_error,
    translate_response,
)
from tests.agent.translate import ollama_fixtures as fx

RID = "chatcmpl-test"
CREATED = 1700000000


def plan(route: str, body: bytes) -> OllamaPlan:
    return plan_request(route, body)


CHAT_PLAN = plan(
    "/v1/chat/completions", b'{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}'
)


def translate(p: OllamaPlan, body: bytes, status: int = 200) -> tuple[int, bytes]:
    return translate_response(p, status, body, request_id=RID, created=CREATED)


def test_chat_completion_exact() -> None:
    assert translate(CHAT_PLAN, fx.CHAT_RESPONSE) == (
        200,
        b'{"id":"chatcmpl-test","object":"chat.completion","created":1700000000,'
        b'"model":"llama3.2","choices":[{"index":0,"message":{"role":"assistant",'
        b'"content":"Hello! How are you today?"},"logprobs":null,"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":26,"completion_tokens":298,"total_tokens":324}}',
    )


def test_chat_completion_with_tool_calls_exact() -> None:
    assert tool_call_id(RID, 0) == "call_24aee4e74f5d85ba03909ed5"  # deterministic
    assert translate(CHAT_PLAN, fx.CHAT_TOOL_RESPONSE) == (
        200,
        b'{"id":"chatcmpl-test","object":"chat.completion","created":1700000000,'
        b'"model":"llama3.2","choices":[{"index":0,"message":{"role":"assistant",'
        b'"content":null,"tool_calls":[{"id":"call_24aee4e74f5d85ba03909ed5",'
        b'"type":"function","function":{"name":"get_current_weather",'
        b'"arguments":"{\\"format\\":\\"celsius\\",\\"location\\":\\"Paris, FR\\"}"}}]},'
        b'"logprobs":null,"finish_reason":"tool_calls"}],'
        b'"usage":{"prompt_tokens":122,"completion_tokens":33,"total_tokens":155}}',
    )


def test_chat_without_counters_and_done_reason() -> None:
    body = b'{"model":"m","message":{"role":"assistant","content":"x"},"done":true}'
    got = orjson.loads(translate(CHAT_PLAN, body)[1])
    assert got["choices"][0]["finish_reason"] == "stop"
    assert got["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_text_completion_exact_with_length() -> None:
    p = plan("/v1/completions", b'{"model":"codellama:code","prompt":"def compute_gcd(a, b):"}')
    assert translate(p, fx.GENERATE_RESPONSE) == (
        200,
        b'{"id":"chatcmpl-test","object":"text_completion","created":1700000000,'
        b'"model":"codellama:code","choices":[{"text":"\\n  if a == 0:\\n    return b",'
        b'"index":0,"logprobs":null,"finish_reason":"length"}],'
        b'"usage":{"prompt_tokens":17,"completion_tokens":63,"total_tokens":80}}',
    )


def test_embeddings_exact() -> None:
    p = plan("/v1/embeddings", b'{"model":"all-minilm","input":["a","b"]}')
    assert translate(p, fx.EMBED_RESPONSE) == (
        200,
        b'{"object":"list","data":['
        b'{"object":"embedding","embedding":[0.010071029,-0.0017594862,0.05007221],"index":0},'
        b'{"object":"embedding","embedding":[-0.0098027075,0.06042469,0.025257962],"index":1}],'
        b'"model":"all-minilm","usage":{"prompt_tokens":8,"total_tokens":8}}',
    )


def test_embeddings_base64() -> None:
    p = plan("/v1/embeddings", b'{"model":"all-minilm","input":"a","encoding_format":"base64"}')
    got = orjson.loads(translate(p, fx.EMBED_RESPONSE)[1])
    raw = base64.b64decode(got["data"][0]["embedding"])
    assert struct.unpack("<3f", raw) == pytest.approx([0.010071029, -0.0017594862, 0.05007221])


@pytest.mark.parametrize(
    ("status", "body", "out_status", "kind", "code"),
    [
        (
            404,
            b'{"error":"model \'llama9\' not found"}',
            404,
            "invalid_request_error",
            "model_not_found",
        ),
        (
            404,
            b'{"error":"model \\"llama9\\" not found, try pulling it first"}',
            404,
            "invalid_request_error",
            "model_not_found",
        ),
        (404, b"404 page not found", 404, "invalid_request_error", None),
        (400, b'{"error":"invalid options"}', 400, "invalid_request_error", None),
        (429, b'{"error":"server busy"}', 429, "rate_limit_error", None),
        (500, b'{"error":"llama runner process has terminated"}', 500, "server_error", None),
        (503, b"", 503, "server_error", None),
        (200, b'{"error":"odd"}', 500, "server_error", None),
    ],
)
def test_translate_error(
    status: int, body: bytes, out_status: int, kind: str, code: str | None
) -> None:
    got_status, got = translate_error(status, body)
    err = orjson.loads(got)["error"]
    assert (got_status, err["type"], err["code"], err["param"]) == (out_status, kind, code, None)
    assert err["message"]


def test_translate_error_exact_bytes() -> None:
    assert translate_error(404, b'{"error":"model \'x\' not found"}') == (
        404,
        b'{"error":{"message":"model \'x\' not found","type":"invalid_request_error",'
        b'"param":null,"code":"model_not_found"}}',
    )


def test_error_status_goes_through_translate_error() -> None:
    status, body = translate(CHAT_PLAN, b'{"error":"model \'x\' not found"}', status=404)
    assert status == 404 and b"model_not_found" in body


def test_error_object_with_200_is_an_error() -> None:
    status, body = translate(CHAT_PLAN, b'{"error":"boom"}')
    assert status == 500 and b'"server_error"' in body


def test_invalid_backend_json_is_502() -> None:
    status, body = translate(CHAT_PLAN, b"<html>")
    assert status == 502 and b'"server_error"' in body
