"""Translation between the OpenAI API and Ollama's native API (facade).

The agent talks to Ollama through its native endpoints (``/api/chat``, ``/api/generate``,
``/api/embed``) rather than Ollama's own ``/v1`` layer, so it controls ids, usage and
error shapes exactly. Use:

* :func:`plan_request` to turn an OpenAI request into an :class:`OllamaPlan`;
* :func:`translate_response` for a non-streaming answer;
* :class:`StreamTranslator` for a streaming (NDJSON) answer;
* :func:`translate_error` for an error answer.

All of it is sans-I/O and deterministic (ids and timestamps are inputs).
"""

from __future__ import annotations

from agent.translate.errors import TranslationError
from agent.translate.ollama_request import ROUTES, OllamaPlan, plan_request
from agent.translate.ollama_response import tool_call_id, translate_error, translate_response
from agent.translate.ollama_stream import StreamTranslator

__all__ = [
    "ROUTES",
    "OllamaPlan",
    "StreamTranslator",
    "TranslationError",
    "plan_request",
    "tool_call_id",
    "translate_error",
    "translate_response",
]
