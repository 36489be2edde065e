"""The OpenAI v1-compatible surface: ``/v1/models``, chat, completions, embeddings.

Request bodies cross the tunnel untouched (tools, response_format, stream_options and any
field this relay has never heard of). Streamed answers are passed on as the agent's bytes
arrive, several SSE events per write when several are waiting; the response status and
headers are held back until the first bytes, so a failure before the first token is a
real HTTP error rather than a broken stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import orjson
from quart import Blueprint, Response, request

from relay.auth import AuthError, Principal
from relay.errors import openai_error, sse_error_event
from relay.events import EventHub
from relay.requests import RequestLog
from relay.state import relay_state
from relay.tunnel.stream import StreamFailed, TunnelStream

log = logging.getLogger(__name__)
blueprint = Blueprint("openai", __name__, url_prefix="/v1")

FORWARDED_ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
RETRY_AFTER_S = "5"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _principal() -> Principal | Response:
    try:
        return await relay_state().keys.authenticate(request.headers.get("Authorization"))
    except AuthError as exc:
        return openai_error(401, str(exc), code=exc.code)


def _failure_response(failure: StreamFailed) -> Response:
    headers = {"Retry-After": RETRY_AFTER_S} if failure.status in (429, 503) else None
    return openai_error(
        failure.status,
        failure.message,
        code=failure.code,
        error_type=failure.error_type,
        headers=headers,
    )


@blueprint.get("/models")
async def list_models() -> Response:
    principal = await _principal()
    if isinstance(principal, Response):
        return principal
    models = relay_state().directory.group_models(principal.group_id)
    data = [
        {"id": model, "object": "model", "created": 0, "owned_by": "llmcluster"}
        for model in sorted(models)
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), content_type="application/json")


@blueprint.post("/chat/completions")
async def chat_completions() -> Response:
    return await _forward("/v1/chat/completions")


@blueprint.post("/completions")
async def completions() -> Response:
    return await _forward("/v1/completions")


@blueprint.post("/embeddings")
async def embeddings() -> Response:
    return await _forward("/v1/embeddings")


async def _forward(route: str) -> Response:
    principal = await _principal()
    if isinstance(principal, Response):
        return principal
    body = await request.get_data(cache=False)
    assert isinstance(body, bytes)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return openai_error(400, "We could not parse the JSON body of your request.")
    if not isinstance(parsed, dict):
        return openai_error(400, "The request body must be a JSON object.")
    model = parsed.get("model")
    if not isinstance(model, str) or not model:
        return openai_error(400, "You must provide a model parameter.", param="model")
    streaming = parsed.get("stream") is True and route != "/v1/embeddings"
    log_entry = RequestLog(principal, route, model, streaming)
    try:
        return await _proxy(log_entry, body)
    except asyncio.CancelledError:
        _finish(log_entry, 499, "client_closed_request")
        raise


async def _proxy(entry: RequestLog, body: bytes) -> Response:
    """Send the request over a tunnel and shape the answer. Closes ``entry`` unless the
    answer streams (then the stream's body generator closes it)."""
    state = relay_state()
    settings = state.settings
    try:
        session = state.directory.pick(entry.principal.group_id, entry.model)
        entry.node_id, entry.node_name = session.node_id, session.node_name
        stream = await state.directory.open_stream(
            session, "POST", entry.route, body, settings.request_timeout_s
        )
    except StreamFailed as failure:
        return _failed(entry, failure)

    try:
        head = await asyncio.wait_for(stream.wait_head(), settings.first_byte_timeout_s)
        if head.status >= 400 or not entry.streaming:
            payload = await stream.read_all()
            entry.first_byte()
            _finish(entry, head.status, None, stream)
            return Response(payload, status=head.status, content_type=head.content_type)
        first = await asyncio.wait_for(stream.next_batch(), settings.first_byte_timeout_s)
    except StreamFailed as failure:
        return _failed(entry, failure)
    except TimeoutError:
        _cancel_soon(stream)
        return _failed(
            entry,
            StreamFailed(
                504, "The node did not start answering in time.", code="first_byte_timeout"
            ),
        )
    except asyncio.CancelledError:  # the consumer hung up before the first byte
        _cancel_soon(stream)
        raise
    entry.first_byte()
    if first is None:
        _finish(entry, head.status, None, stream)
        return Response(b"", status=head.status, content_type=head.content_type)
    response = Response(
        _relay_body(entry, stream, first, state.events),
        status=head.status,
        content_type=head.content_type,
        headers=SSE_HEADERS,
    )
    response.timeout = None
    return response


def _failed(entry: RequestLog, failure: StreamFailed) -> Response:
    _finish(entry, failure.status, failure.code)
    return _failure_response(failure)


def _finish(
    entry: RequestLog,
    status: int,
    error_code: str | None,
    stream: TunnelStream | None = None,
    events: EventHub | None = None,
) -> None:
    """Close the request's log once and tell whoever listens. ``events`` must be given
    where no app context exists (inside a streamed body)."""
    if stream is not None and stream.usage is not None:
        entry.usage(stream.usage.prompt_tokens, stream.usage.completion_tokens)
    if entry.close(status, error_code):
        (events or relay_state().events).publish("request", entry.to_event())


async def _relay_body(
    entry: RequestLog, stream: TunnelStream, first: bytes, events: EventHub
) -> AsyncIterator[bytes]:
    """The streamed body: what the agent sent, batch by batch; an error event on failure."""
    status, code = 200, None
    try:
        yield first
        while True:
            try:
                batch = await stream.next_batch()
            except StreamFailed as failure:
                status, code = failure.status, failure.code
                yield sse_error_event(failure.message, code=failure.code)
                return
            if batch is None:
                return
            yield batch
    finally:
        if not stream.finished:  # the consumer went away mid-stream
            status, code = 499, "client_closed_request"
            _cancel_soon(stream)
        _finish(entry, status, code, stream, events)


_pending_cancels: set[asyncio.Task[None]] = set()


def _cancel_soon(stream: TunnelStream) -> None:
    """Send the cancel from a task of its own: the caller may itself be being cancelled."""
    task = asyncio.get_running_loop().create_task(stream.cancel())
    _pending_cancels.add(task)
    task.add_done_callback(_pending_cancels.discard)
