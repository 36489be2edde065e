"""Errors raised by the translators and the OpenAI error bodies they produce.

:class:`TranslationError` is raised for a request the agent cannot forward (bad JSON, a
missing field, a feature the backend lacks); the caller answers the client with
``err.status`` and ``err.body()``. :func:`openai_error` and :func:`sse_error_event` build
the exact OpenAI error shapes used everywhere in this package.

Everything here is pure (no I/O) and safe to call from any thread or the event loop.
"""

from __future__ import annotations

import orjson

SSE_DONE = b"data: [DONE]\n\n"


class TranslationError(Exception):
    """An OpenAI request that cannot be translated; answer it with :meth:`body`.

    ``status`` is the HTTP status to send (400 for client mistakes), ``message`` a sentence
    for the client and ``param`` the offending request field (``"messages[1].content"``)
    or ``None``.
    """

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param

    def body(self) -> bytes:
        """Return the OpenAI error JSON for this error."""
        kind = "invalid_request_error" if 400 <= self.status < 500 else "server_error"
        return openai_error(self.message, kind, param=self.param)


def openai_error(
    message: str, kind: str, *, param: str | None = None, code: str | None = None
) -> bytes:
    """Return ``{"error":{"message","type","param","code"}}`` as JSON bytes."""
    return orjson.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}})


def sse_event(payload: bytes) -> bytes:
    """Wrap one JSON payload as an SSE event: ``data: <payload>\\n\\n``."""
    return b"data: " + payload + b"\n\n"


def sse_error_event(message: str, kind: str = "server_error") -> bytes:
    """Return the SSE event that reports a mid-stream failure to an OpenAI client."""
    return sse_event(openai_error(message, kind))
