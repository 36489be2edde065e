"""Ollama native responses (non-streaming) and errors -> exact OpenAI JSON.

:func:`translate_response` turns one ``/api/chat``, ``/api/generate`` or ``/api/embed``
answer into a ``chat.completion``, ``text_completion`` or embedding ``list``;
:func:`translate_error` turns an Ollama error (``{"error": "..."}``) into an OpenAI error
with a fitting status. Ids and timestamps are inputs, so output is deterministic.

The small helpers (:func:`tool_call_id`, :func:`openai_tool_calls`,
:func:`finish_reason`, :func:`usage_counts`) are shared with the streaming translator.
Pure; safe to call anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from typing import TYPE_CHECKING, Any

import orjson

from agent.translate.errors import openai_error

if TYPE_CHECKING:
    from agent.translate.ollama_request import OllamaPlan

_MODEL_NOT_FOUND = re.compile(r"\bmodel\s+(\"[^\"]*\"|'[^']*'|\S+)\s+not found", re.IGNORECASE)


def tool_call_id(request_id: str, index: int) -> str:
    """Return the deterministic OpenAI tool-call id for call ``index`` of a request."""
    digest = hashlib.blake2b(f"{request_id}:{index}".encode(), digest_size=12).hexdigest()
    return f"call_{digest}"


def openai_tool_calls(
    calls: object, request_id: str, first_index: int, *, with_index: bool
) -> list[dict[str, Any]]:
    """Convert Ollama tool calls (``arguments`` object) to OpenAI ones (JSON string).

    ``first_index`` numbers the calls across a whole response; ``with_index`` adds the
    ``index`` key that streaming deltas carry. An id sent by Ollama is kept, otherwise
    one is derived from ``request_id`` and the index.
    """
    out: list[dict[str, Any]] = []
    if not isinstance(calls, list):
        return out
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            continue
        index = first_index + len(out)
        given = call.get("id")
        args = fn.get("arguments")
        item: dict[str, Any] = {"index": index} if with_index else {}
        item["id"] = given if isinstance(given, str) and given else tool_call_id(request_id, index)
        item["type"] = "function"
        item["function"] = {
            "name": fn.get("name") if isinstance(fn.get("name"), str) else "",
            "arguments": args if isinstance(args, str) else orjson.dumps(args or {}).decode(),
        }
        out.append(item)
    return out


def finish_reason(done_reason: object, had_tool_calls: bool) -> str:
    """Map Ollama's ``done_reason`` to an OpenAI ``finish_reason``."""
    if had_tool_calls:
        return "tool_calls"
    return "length" if done_reason == "length" else "stop"


def usage_counts(obj: dict[str, Any]) -> tuple[int, int]:
    """Return (prompt tokens, completion tokens) from Ollama's final object (0 if absent)."""
    prompt = obj.get("prompt_eval_count")
    completion = obj.get("eval_count")
    return (
        prompt if isinstance(prompt, int) else 0,
        completion if isinstance(completion, int) else 0,
    )


def usage_json(prompt: int, completion: int) -> dict[str, int]:
    """Return the OpenAI ``usage`` object."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def translate_error(status: int, body: bytes) -> tuple[int, bytes]:
    """Turn an Ollama error answer into ``(status, OpenAI error JSON)``.

    A missing model becomes 404 ``model_not_found``; other 4xx stay 4xx as
    ``invalid_request_error`` (401/403/429 get their OpenAI types); 5xx and a non-error
    status carrying an error become ``server_error`` (status 500 for the latter).
    """
    message = _error_message(body) or f"Backend returned HTTP {status}"
    if status < 400:
        status = 500
    if _MODEL_NOT_FOUND.search(message):
        return 404, openai_error(message, "invalid_request_error", code="model_not_found")
    if status >= 500:
        return status, openai_error(message, "server_error")
    kind = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
    return status, openai_error(message, kind.get(status, "invalid_request_error"))


def _error_message(body: bytes) -> str:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace").strip()[:2000]
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict):
        err = err.get("message")
    if isinstance(err, str):
        return err
    return body.decode("utf-8", "replace").strip()[:2000]


def translate_response(
    plan: OllamaPlan, status: int, body: bytes, *, request_id: str, created: int
) -> tuple[int, bytes]:
    """Translate a complete (non-streaming) Ollama answer into ``(status, OpenAI JSON)``."""
    if status >= 400:
        return translate_error(status, body)
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 502, openai_error("Backend returned invalid JSON", "server_error")
    if not isinstance(obj, dict):
        return 502, openai_error("Backend returned an unexpected response", "server_error")
    if "error" in obj:
        return translate_error(status, body)
    if plan.kind == "embeddings":
        return 200, orjson.dumps(_embeddings(plan, obj))
    prompt, completion = usage_counts(obj)
    base = {"id": request_id, "object": "", "created": created, "model": plan.model}
    if plan.kind == "completion":
        text = obj.get("response")
        base["object"] = "text_completion"
        base["choices"] = [
            {
                "text": text if isinstance(text, str) else "",
                "index": 0,
                "logprobs": None,
                "finish_reason": finish_reason(obj.get("done_reason"), False),
            }
        ]
    else:
        base["object"] = "chat.completion"
        base["choices"] = [_chat_choice(obj, request_id)]
    base["usage"] = usage_json(prompt, completion)
    return 200, orjson.dumps(base)


def _chat_choice(obj: dict[str, Any], request_id: str) -> dict[str, Any]:
    msg = obj.get("message")
    msg = msg if isinstance(msg, dict) else {}
    content = msg.get("content")
    content = content if isinstance(content, str) else ""
    calls = openai_tool_calls(msg.get("tool_calls"), request_id, 0, with_index=False)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls and not content:
        message["content"] = None
    thinking = msg.get("thinking")
    if isinstance(thinking, str) and thinking:
        message["reasoning"] = thinking
    if calls:
        message["tool_calls"] = calls
    return {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finish_reason(obj.get("done_reason"), bool(calls)),
    }


def _embeddings(plan: OllamaPlan, obj: dict[str, Any]) -> dict[str, Any]:
    vectors = obj.get("embeddings")
    data = []
    for i, vec in enumerate(vectors if isinstance(vectors, list) else []):
        item: Any = vec
        if plan.encoding_format == "base64" and isinstance(vec, list):
            item = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        data.append({"object": "embedding", "embedding": item, "index": i})
    prompt, _ = usage_counts(obj)
    return {
        "object": "list",
        "data": data,
        "model": plan.model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    }
