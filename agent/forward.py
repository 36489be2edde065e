"""Forwarding one tunnelled request to a local backend, and its answer back.

The relay names a route and gives a body; it never names a host, a port or a URL. The
route must be on this agent's allow-list, the URL is built by parsing the configured
backend's base URL, and only the backend's own API key (if any) is sent to it: nothing
from the consumer's headers crosses over.

OpenAI-speaking backends (llama.cpp, vLLM, LM Studio, ...) pass bytes through untouched
save for small fix-ups; Ollama is driven through its native API and translated.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from agent.translate.errors import TranslationError
from agent.translate.ollama import (
    StreamTranslator,
    plan_request,
    translate_error,
    translate_response,
)
from agent.translate.openai_passthrough import PassthroughNormalizer
from relay.protocol import OpenStream

log = logging.getLogger(__name__)

# Bodies of non-streamed answers are read whole (to translate them or to read the usage);
# past this size the backend's answer is refused rather than held in memory.
MAX_BUFFERED_BODY = 64 * 1024 * 1024

# Routes whose streamed answers can carry a usage chunk (stream_options.include_usage).
STREAM_USAGE_ROUTES = frozenset({"/v1/chat/completions", "/v1/completions"})


class Backend(Protocol):
    """What the forwarder needs to know of a local backend."""

    @property
    def kind(self) -> str: ...

    @property
    def root_url(self) -> str: ...

    @property
    def api_key(self) -> str | None: ...


class Sink(Protocol):
    """Where the answer goes (the tunnel client's side of one stream)."""

    async def head(self, status: int, content_type: str) -> None: ...

    async def data(self, payload: bytes) -> None: ...

    async def end(self, prompt_tokens: int | None, completion_tokens: int | None) -> None: ...

    async def error(
        self, status: int, message: str, code: str | None = None, error_type: str = "server_error"
    ) -> None: ...


class ForwardError(Exception):
    """A request this agent will not or cannot forward; becomes an OpenAI-format error."""

    def __init__(
        self, status: int, message: str, code: str | None = None, error_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.error_type = error_type or (
            "invalid_request_error" if status < 500 else "server_error"
        )


def backend_url(root_url: str, route: str) -> str:
    """Join a backend's root URL and an allow-listed route by parsing, never by pasting.

    ``route`` must be an absolute path without query or fragment (the allow-list holds
    only such paths); the backend's own path prefix (e.g. behind a proxy) is kept.
    """
    parts = urlsplit(root_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("backend URL must be http(s)://host[:port][/prefix]")
    route_parts = urlsplit(route)
    if route_parts.scheme or route_parts.netloc or route_parts.query or route_parts.fragment:
        raise ValueError("route must be a bare path")
    path = parts.path.rstrip("/") + route_parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True, slots=True)
class Peek:
    """What the forwarder reads from a request body: the model, whether the client
    streams, whether it asked for stream usage, and the parsed object."""

    model: str
    stream: bool
    include_usage: bool
    parsed: dict[str, Any]


def _peek(body: bytes) -> Peek:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ForwardError(400, "The request body is not valid JSON.") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("model"), str):
        raise ForwardError(400, "The request must name a model.")
    options = parsed.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return Peek(parsed["model"], parsed.get("stream") is True, include_usage, parsed)


def with_stream_usage(body: bytes, peek: Peek) -> bytes | None:
    """``body`` asking the backend for ``stream_options.include_usage``, or None when it
    cannot be asked (``stream_options`` is not an object: the backend will refuse it).

    Without ``stream_options`` the field is spliced in after the opening brace, leaving
    every other byte as the client sent it; otherwise the body is re-encoded.
    """
    options = peek.parsed.get("stream_options")
    if "stream_options" not in peek.parsed:
        start = body.index(b"{") + 1
        rest = body[start:]
        field = b'"stream_options":{"include_usage":true}'
        return body[:start] + field + (b"," if rest.strip() != b"}" else b"") + rest
    if not isinstance(options, dict):
        return None
    return orjson.dumps({**peek.parsed, "stream_options": {**options, "include_usage": True}})


class Forwarder:
    """Forwards requests to this node's backends. One per agent; per-request state lives
    in :meth:`forward`'s frame, so any number run concurrently."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        allowed_routes: Collection[str],
        models: Mapping[str, Backend] | None = None,
    ) -> None:
        self._http = http
        self._allowed = frozenset(allowed_routes)
        self.models: Mapping[str, Backend] = models or {}
        # Called when a backend could not be reached, so the agent can rescan at once.
        self.on_backend_failure: Callable[[], None] | None = None

    async def forward(self, request: OpenStream, sink: Sink) -> None:
        """Serve one request into ``sink``. Never raises except CancelledError: failures
        become an error on the sink. Cancelling it closes the backend connection."""
        try:
            await self._forward(request, sink)
        except ForwardError as exc:
            await sink.error(exc.status, exc.message, exc.code, exc.error_type)
        except TranslationError as exc:
            await sink.error(exc.status, exc.message, None, "invalid_request_error")
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            log.warning("backend connection failed: %s", type(exc).__name__)
            if self.on_backend_failure is not None:
                self.on_backend_failure()
            await sink.error(502, "The node's backend is not reachable.", "backend_unavailable")
        except TimeoutError:
            await sink.error(
                504, "The node's backend did not answer before the deadline.", "backend_timeout"
            )

    async def _forward(self, request: OpenStream, sink: Sink) -> None:
        if request.route not in self._allowed:
            raise ForwardError(
                403,
                f"This node does not forward {request.route}.",
                "route_not_allowed",
                "permission_error",
            )
        if request.method != "POST":
            raise ForwardError(405, "Only POST requests are forwarded.", "method_not_allowed")
        peek = _peek(request.body)
        model = peek.model
        backend = self.models.get(model)
        if backend is None:
            raise ForwardError(
                404,
                f"The model '{model}' is not served by this node.",
                "model_not_found",
                "invalid_request_error",
            )
        headers = {"Content-Type": "application/json"}
        if backend.api_key:
            headers["Authorization"] = f"Bearer {backend.api_key}"
        async with asyncio.timeout(request.deadline_s):
            if backend.kind == "ollama":
                await self._ollama(backend, request, headers, sink)
            else:
                await self._passthrough(backend, request, headers, sink, peek)

    async def _passthrough(
        self,
        backend: Backend,
        request: OpenStream,
        headers: dict[str, str],
        sink: Sink,
        peek: Peek,
    ) -> None:
        """Pass the request through. A client that streams without asking for usage gets
        the backend asked for it anyway (so the relay can account the answer) and the
        usage-only chunk removed from its stream; a backend that refuses the added field
        with a 400 is asked again with the client's body as it was."""
        url = backend_url(backend.root_url, request.route)
        body: bytes | None = None
        if peek.stream and not peek.include_usage and request.route in STREAM_USAGE_ROUTES:
            body = with_stream_usage(request.body, peek)
        response = await self._http.post(url, data=body or request.body, headers=headers)
        try:
            if body is not None and response.status == 400:
                response.release()
                log.info("backend refused stream_options.include_usage; sending the body as is")
                body = None
                response = await self._http.post(url, data=request.body, headers=headers)
            await self._relay_answer(response, sink, strip_usage=body is not None)
        finally:
            response.release()

    async def _relay_answer(
        self, response: aiohttp.ClientResponse, sink: Sink, *, strip_usage: bool
    ) -> None:
        """Stream a passthrough backend's answer into ``sink``, with its usage counts."""
        content_type = response.headers.get("Content-Type", "application/json")
        await sink.head(response.status, content_type)
        if content_type.startswith("text/event-stream"):
            normalizer = PassthroughNormalizer(strip_usage=strip_usage)
            async for chunk in response.content.iter_any():
                out = normalizer.feed(chunk)
                if out:
                    await sink.data(out)
            tail = normalizer.finish()
            if tail:
                await sink.data(tail)
            usage = normalizer.usage
        else:
            body = await _read_limited(response)
            await sink.data(body)
            usage = _json_usage(body)
        await sink.end(*(usage or (None, None)))

    async def _ollama(
        self, backend: Backend, request: OpenStream, headers: dict[str, str], sink: Sink
    ) -> None:
        plan = plan_request(request.route, request.body)
        url = backend_url(backend.root_url, plan.path)
        request_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        async with self._http.post(url, data=plan.payload, headers=headers) as response:
            if response.status >= 400:
                status, body = translate_error(response.status, await _read_limited(response))
                await sink.head(status, "application/json")
                await sink.data(body)
                await sink.end(None, None)
                return
            if not plan.stream:
                status, body = translate_response(
                    plan,
                    response.status,
                    await _read_limited(response),
                    request_id=request_id,
                    created=created,
                )
                await sink.head(status, "application/json")
                await sink.data(body)
                usage = _json_usage(body)
                await sink.end(*(usage or (None, None)))
                return
            translator = StreamTranslator(plan, request_id, created)
            await sink.head(200, "text/event-stream; charset=utf-8")
            async for chunk in response.content.iter_any():
                out = translator.feed(chunk)
                if out:
                    await sink.data(out)
                if translator.finished:
                    break
            tail = translator.finish()
            if tail:
                await sink.data(tail)
        await sink.end(*(translator.usage or (None, None)))


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > MAX_BUFFERED_BODY:
            raise ForwardError(502, "The backend's answer is too large.", "response_too_large")
    return bytes(body)


def _json_usage(body: bytes) -> tuple[int, int] | None:
    """Usage counts of a complete OpenAI JSON answer, if it carries them."""
    if b'"usage"' not in body:
        return None
    try:
        usage = orjson.loads(body).get("usage")
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return None
