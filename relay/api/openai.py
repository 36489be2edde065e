"""The OpenAI v1-compatible surface: ``/v1/models``, chat, completions, embeddings.

Request bodies cross the tunnel untouched (tools, response_format, stream_options and any
field this relay has never heard of). Streamed answers are passed on as the agent's bytes
arrive, several SSE events per write when several are waiting; the response status and
headers are held back until the first bytes, so a failure before the first token is a
real HTTP error rather than a broken stream.

Every forwarded request is admitted under the rate limits first (429 with ``Retry-After``
when over) and carries the ``x-ratelimit-*`` headers on its response, whatever its
status; its :class:`~relay.usage_meter.Meter` closes its books exactly once at the end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import orjson
from quart import Blueprint, Response, request

from relay.auth import AuthError, Principal
from relay.errors import openai_error, sse_error_event
from relay.limits import Decision
from relay.limits.headers import refusal_message
from relay.requests import RequestLog
from relay.state import relay_state
from relay.tunnel.stream import StreamFailed, TunnelStream
from relay.usage_meter import Meter, requested_completion_tokens

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
    state = relay_state()
    models = set(state.directory.group_models(principal.group_id))
    aliases = await state.aliases.aliases(principal.group_id)
    models.update(alias for alias, targets in aliases.items() if models.intersection(targets))
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
    meter = Meter(
        relay_state().accounting,
        RequestLog(principal, route, model, streaming),
        len(body),
        requested_completion_tokens(parsed),
    )
    try:
        decision = await meter.admit()
        if not decision.allowed:
            response = _refused(meter, decision)
        else:
            response = await _proxy(meter, parsed, body)
    except asyncio.CancelledError:
        meter.finish(499, "client_closed_request")
        raise
    except Exception:
        meter.finish(500, "internal_error")
        raise
    if meter.headers:
        response.headers.update(meter.headers)
    return response


def _refused(meter: Meter, decision: Decision) -> Response:
    """The 429 of a request over a limit (OpenAI's format; headers added by the caller)."""
    meter.finish(429, "rate_limit_exceeded")
    return openai_error(
        429,
        refusal_message(decision, meter.entry.principal.key_name),
        code="rate_limit_exceeded",
        error_type="tokens" if decision.dimension == "tokens" else "requests",
    )


async def _proxy(meter: Meter, parsed: dict[str, Any], body: bytes) -> Response:
    """Have the request answered (scheduling, queueing and failover are the dispatcher's)
    and shape the answer. Finishes ``meter`` unless the answer streams (then the stream's
    body generator finishes it)."""
    state = relay_state()
    entry = meter.entry
    targets = await state.aliases.targets(entry.principal.group_id, entry.model)
    try:
        answer = await state.dispatcher.dispatch(entry, parsed, body, targets)
    except StreamFailed as failure:
        return _failed(meter, failure)
    stream, head, first = answer.stream, answer.head, answer.first
    entry.first_byte()
    if head.status >= 400 or not entry.streaming or first is None:
        payload = first or b""
        meter.finish(head.status, None, _usage(stream), answer_bytes=len(payload))
        return Response(payload, status=head.status, content_type=head.content_type)
    response = Response(
        _relay_body(meter, stream, first),
        status=head.status,
        content_type=head.content_type,
        headers=SSE_HEADERS,
    )
    response.timeout = None
    task = asyncio.current_task()
    if task is not None:  # a consumer gone before the body started never runs its finally
        task.add_done_callback(partial(_abandoned, meter, stream))
    return response


def _abandoned(meter: Meter, stream: TunnelStream, _: object) -> None:
    if not meter.entry.finished:
        if not stream.finished:
            _cancel_soon(stream)
        meter.finish(499, "client_closed_request", _usage(stream))


def _failed(meter: Meter, failure: StreamFailed) -> Response:
    meter.finish(failure.status, failure.code)
    return _failure_response(failure)


def _usage(stream: TunnelStream) -> tuple[int | None, int | None] | None:
    """The token counts the agent sent with its End message, if any."""
    end = stream.usage
    return None if end is None else (end.prompt_tokens, end.completion_tokens)


async def _relay_body(meter: Meter, stream: TunnelStream, first: bytes) -> AsyncIterator[bytes]:
    """The streamed body: what the agent sent, batch by batch; an error event on failure.

    Counts SSE events on the way (a C-speed byte count, no parsing) in case the backend
    reports no usage and tokens must be estimated."""
    status, code = 200, None
    events = first.count(b"data:")
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
            events += batch.count(b"data:")
            yield batch
    finally:
        if not stream.finished:  # the consumer went away mid-stream
            status, code = 499, "client_closed_request"
            _cancel_soon(stream)
        meter.finish(status, code, _usage(stream), events_seen=events)


_pending_cancels: set[asyncio.Task[None]] = set()


def _cancel_soon(stream: TunnelStream) -> None:
    """Send the cancel from a task of its own: the caller may itself be being cancelled."""
    task = asyncio.get_running_loop().create_task(stream.cancel())
    _pending_cancels.add(task)
    task.add_done_callback(_pending_cancels.discard)
