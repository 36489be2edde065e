"""Plumbing shared by the simulated engines (Ollama, LM Studio, llama.cpp, vLLM).

Every engine sim is a :class:`~agent.sim.openai.SimulatedOpenAI` (so its ``/v1`` API is
the same deterministic one) plus the engine's own endpoints. :class:`EngineSim` adds what
they all share:

* ``root_url`` (``http://127.0.0.1:PORT``, the engine's root, where its native API
  lives) next to the inherited ``base_url`` (``root_url + "/v1"``, what an OpenAI client
  takes);
* recording of the requests the OpenAI sim does not record itself (GETs and the
  other non-POST methods; POST bodies are recorded where they are parsed), so tests can
  see which headers a probe sent;
* an optional API key (``api_key=``) checked like the engine checks it, on the paths
  that engine protects (see each sim's ``_protected``).

:func:`stream_lines` writes a streamed answer (SSE events or NDJSON lines) with the
token delays, counting a client that hangs up as a disconnect. It is safe to cancel:
a cancelled stream is counted and the cancellation re-raised.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from agent.sim.openai import RecordedRequest, SimState, SimulatedOpenAI

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"


def dumps(obj: Any) -> str:
    """``orjson.dumps`` as ``str``, for ``web.json_response(dumps=...)``."""
    return orjson.dumps(obj).decode()


def json_response(obj: Any, status: int = 200) -> web.Response:
    """A JSON response serialised with orjson."""
    return web.Response(status=status, body=orjson.dumps(obj), content_type="application/json")


def delays(body: dict[str, Any], state: SimState) -> tuple[float, float]:
    """(seconds between tokens, seconds before the first one) for one request."""
    token = float(body.get("sim_token_delay_ms", state.token_delay_ms)) / 1000
    first = float(body.get("sim_first_token_delay_ms", 0)) / 1000
    return token, first


class EngineSim(SimulatedOpenAI):
    """A SimulatedOpenAI with a root URL, request recording and an optional API key.

    ``base_url`` (inherited) ends in ``/v1``: give it to an OpenAI client. ``root_url`` is
    the engine root without ``/v1``: give it to :func:`agent.detect.fingerprint`, and
    Ollama's or LM Studio's native API hangs under it.
    """

    def __init__(self, state: SimState | None = None, *, api_key: str | None = None) -> None:
        super().__init__(state)
        self.api_key = api_key

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self._record_and_authorize(request, handler)

        self.app.middlewares.append(guard)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _protected(self, path: str) -> bool:
        """Whether ``path`` needs the API key when one is set (engine-specific)."""
        return True

    def _unauthorized(self) -> web.StreamResponse:
        """The engine's answer to a missing or wrong API key."""
        payload = {
            "error": {
                "message": "Invalid API key",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
        return json_response(payload, 401)

    async def _record_and_authorize(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if self.state.record and request.method != "POST":
            self.state.requests.append(RecordedRequest(request.path, dict(request.headers), {}))
        if self.api_key is not None and self._protected(request.path):
            sent = request.headers.get("Authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {self.api_key}".encode()):
                return self._unauthorized()
        return await handler(request)


async def stream_lines(
    sim: SimulatedOpenAI,
    request: web.Request,
    lines: Iterable[bytes],
    *,
    content_type: str,
    delay: float = 0.0,
    first_delay: float = 0.0,
    count_cancel: bool = True,
) -> web.StreamResponse:
    """Write ``lines`` (already framed) as one streamed response, spaced by ``delay``.

    A client that hangs up mid-stream is counted in ``sim.state.disconnects``; so is a
    cancellation (aiohttp cancels the handler when the peer closes), which is re-raised,
    unless ``count_cancel`` is false because the caller counts it already.
    """
    headers = {"Content-Type": content_type, "Cache-Control": "no-cache"}
    response = web.StreamResponse(headers=headers)
    try:
        if first_delay:
            await asyncio.sleep(first_delay)
        await response.prepare(request)
        for line in lines:
            await response.write(line)
            if delay:
                await asyncio.sleep(delay)
        await response.write_eof()
    except asyncio.CancelledError:
        if count_cancel:
            sim._note_disconnect()
        raise
    except (ConnectionResetError, ConnectionError):
        sim._note_disconnect()
    return response
