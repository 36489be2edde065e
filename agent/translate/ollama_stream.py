"""Ollama NDJSON stream -> OpenAI Server-Sent Events, incrementally.

:class:`StreamTranslator` eats the raw bytes of a streaming ``/api/chat`` or
``/api/generate`` body in whatever pieces they arrive and returns the SSE bytes to send
on. For chat the output is::

    data: {... "delta":{"role":"assistant","content":""} ...}      (once, first)
    data: {... "delta":{"content":"Hel"} ...}                     (per content piece)
    data: {... "delta":{"tool_calls":[{"index":0,"id":..., ...}]}} (per tool-call line)
    data: {... "delta":{},"finish_reason":"stop"}                 (on done:true)
    data: {... "choices":[],"usage":{...}}                        (if include_usage)
    data: [DONE]

Completions stream ``text_completion`` chunks the same way. An Ollama error line, invalid
JSON, or a body that ends without ``done:true`` produces one OpenAI error event instead
of the rest, and no ``[DONE]``. Everything after that (or after ``done``) is ignored.

Sans-I/O, one instance per response, not thread-safe; safe to abandon at any point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from agent.translate.errors import SSE_DONE, sse_error_event, sse_event
from agent.translate.lines import LineSplitter, LineTooLongError
from agent.translate.ollama_response import (
    finish_reason,
    openai_tool_calls,
    usage_counts,
    usage_json,
)

if TYPE_CHECKING:
    from agent.translate.ollama_request import OllamaPlan


class StreamTranslator:
    """Translate one streaming Ollama response for ``plan`` into OpenAI SSE bytes.

    ``usage`` is ``(prompt_tokens, completion_tokens)`` once the final object arrived;
    ``done`` tells that the stream completed normally and ``error`` holds the message of
    the failure reported to the client, if any.
    """

    def __init__(self, plan: OllamaPlan, request_id: str, created: int) -> None:
        self.plan = plan
        self.request_id = request_id
        self.created = created
        self.usage: tuple[int, int] | None = None
        self.done = False
        self.error: str | None = None
        self._lines = LineSplitter()
        self._chat = plan.kind == "chat"
        self._object = "chat.completion.chunk" if self._chat else "text_completion"
        self._started = False
        self._tool_calls = 0

    @property
    def finished(self) -> bool:
        """True once the stream ended (normally or with an error); later input is ignored."""
        return self.done or self.error is not None

    def feed(self, data: bytes) -> bytes:
        """Add backend bytes; return the SSE bytes they complete (possibly ``b""``)."""
        if self.finished:
            return b""
        try:
            lines = self._lines.feed(data)
        except LineTooLongError as exc:
            return self._fail(f"Backend sent an over-long line: {exc}")
        out = bytearray()
        for line in lines:
            out += self._line(line)
            if self.finished:
                break
        return bytes(out)

    def finish(self) -> bytes:
        """Call at end of the backend body; return the remaining SSE bytes."""
        if self.finished:
            return b""
        out = bytearray()
        last = self._lines.finish()
        if last is not None:
            out += self._line(last)
        if not self.finished:
            out += self._fail("Backend stream ended before the response was complete")
        return bytes(out)

    def _fail(self, message: str) -> bytes:
        self.error = message
        return sse_error_event(message)

    def _line(self, line: bytes) -> bytes:
        if not line.strip():
            return b""
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            return self._fail("Backend sent invalid JSON in its stream")
        if not isinstance(obj, dict):
            return self._fail("Backend sent an unexpected object in its stream")
        err = obj.get("error")
        if err is not None:
            return self._fail(err if isinstance(err, str) else orjson.dumps(err).decode())
        out = self._chat_line(obj) if self._chat else self._completion_line(obj)
        if obj.get("done") is True:
            out += self._final(obj)
        return out

    def _chat_line(self, obj: dict[str, Any]) -> bytes:
        out = bytearray()
        if not self._started:
            self._started = True
            out += self._chunk({"role": "assistant", "content": ""})
        msg = obj.get("message")
        if not isinstance(msg, dict):
            return bytes(out)
        thinking = msg.get("thinking")
        if isinstance(thinking, str) and thinking:
            out += self._chunk({"reasoning": thinking})
        content = msg.get("content")
        if isinstance(content, str) and content:
            out += self._chunk({"content": content})
        calls = openai_tool_calls(
            msg.get("tool_calls"), self.request_id, self._tool_calls, with_index=True
        )
        if calls:
            self._tool_calls += len(calls)
            out += self._chunk({"tool_calls": calls})
        return bytes(out)

    def _completion_line(self, obj: dict[str, Any]) -> bytes:
        text = obj.get("response")
        if isinstance(text, str) and text:
            return self._text_chunk(text, None)
        return b""

    def _final(self, obj: dict[str, Any]) -> bytes:
        self.done = True
        self.usage = usage_counts(obj)
        reason = finish_reason(obj.get("done_reason"), self._tool_calls > 0)
        out = bytearray()
        if self._chat:
            out += self._chunk({}, reason)
        else:
            out += self._text_chunk("", reason)
        if self.plan.include_usage:
            out += self._envelope([], usage_json(*self.usage))
        out += SSE_DONE
        return bytes(out)

    def _chunk(self, delta: dict[str, Any], reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        return self._envelope([choice])

    def _text_chunk(self, text: str, reason: str | None) -> bytes:
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": reason}
        return self._envelope([choice])

    def _envelope(self, choices: list[Any], usage: dict[str, int] | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": self.request_id,
            "object": self._object,
            "created": self.created,
            "model": self.plan.model,
            "choices": choices,
        }
        if self.plan.include_usage:
            # OpenAI sends "usage": null on every chunk but the last when usage is asked for.
            chunk["usage"] = usage
        return sse_event(orjson.dumps(chunk))
