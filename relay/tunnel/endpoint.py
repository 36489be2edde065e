"""Where agents connect: trade a node token for a JWT, then open the tunnel WebSocket.

``POST /tunnel/token`` takes the node token (``Authorization: Bearer llmcn-...``) and
returns a short-lived JWT; ``/tunnel/ws`` accepts the upgrade only with a valid JWT in the
``Authorization`` header (never in the URL) for a node that is still not revoked. The first
frame must be a ``hello`` of our protocol version; a mismatch closes with a reason the
agent logs. From then on this handler only moves frames between the socket and the
:class:`~relay.tunnel.session.AgentSession`.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from quart import Blueprint, Response, request, websocket

from relay.errors import openai_error
from relay.protocol import PROTOCOL_VERSION, Hello, HelloAck, ProtocolError, decode, encode
from relay.security import digests_match, hash_secret
from relay.state import relay_state
from relay.tokens import TUNNEL_AUDIENCE, InvalidToken
from relay.tunnel.session import (
    CLOSE_PROTOCOL_ERROR,
    CLOSE_PROTOCOL_MISMATCH,
    CLOSE_REPLACED,
    AgentSession,
)

log = logging.getLogger(__name__)
blueprint = Blueprint("tunnel", __name__, url_prefix="/tunnel")

HELLO_TIMEOUT_S = 10.0


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@blueprint.post("/token")
async def exchange_token() -> Response:
    """Node token -> short-lived tunnel JWT. 401 for an unknown or revoked node."""
    state = relay_state()
    secret = _bearer(request.headers.get("Authorization"))
    if secret is None:
        return openai_error(401, "A node token is required as 'Authorization: Bearer <token>'.")
    digest = hash_secret(secret)
    node = await state.store.get_node_by_token_hash(digest)
    if node is None or not digests_match(node.token_hash, digest):
        return openai_error(401, "Unknown node token.", code="invalid_node_token")
    if node.revoked:
        return openai_error(401, "This node has been revoked.", code="node_revoked")
    ttl = state.settings.node_jwt_ttl_s
    token = state.signer.issue(node.id, TUNNEL_AUDIENCE, ttl)
    return Response(
        orjson.dumps({"token": token, "expires_in": ttl, "node_id": node.id}),
        content_type="application/json",
    )


@blueprint.websocket("/ws")
async def tunnel() -> Response | None:
    state = relay_state()
    jwt = _bearer(websocket.headers.get("Authorization"))
    if jwt is None:
        return openai_error(401, "A tunnel token is required.")
    try:
        verified = state.signer.verify(jwt, TUNNEL_AUDIENCE)
    except InvalidToken:
        return openai_error(401, "Invalid or expired tunnel token.", code="invalid_tunnel_token")
    node = await state.store.get_node(verified.subject)
    if node is None or node.revoked:
        return openai_error(401, "This node has been revoked.", code="node_revoked")

    await websocket.accept()
    settings = state.settings
    try:
        first = await asyncio.wait_for(websocket.receive(), HELLO_TIMEOUT_S)
        hello = decode(
            first if isinstance(first, bytes) else first.encode(),
            max_bytes=settings.max_message_bytes,
        )
    except (TimeoutError, ProtocolError) as exc:
        await websocket.close(CLOSE_PROTOCOL_ERROR, f"expected a hello frame: {exc}"[:120])
        return None
    if not isinstance(hello, Hello):
        await websocket.close(CLOSE_PROTOCOL_ERROR, "the first frame must be a hello")
        return None
    if hello.protocol_version != PROTOCOL_VERSION:
        reason = (
            f"protocol version mismatch: relay speaks {PROTOCOL_VERSION}, "
            f"agent speaks {hello.protocol_version}; upgrade the older side"
        )
        log.warning("node %s refused: %s", node.name, reason)
        await websocket.close(CLOSE_PROTOCOL_MISMATCH, reason)
        return None

    session = AgentSession(
        node_id=node.id,
        node_name=node.name,
        group_id=node.group_id,
        hello=hello,
        send=websocket.send,
        close=websocket.close,
        window_bytes=settings.stream_window_bytes,
        max_message_bytes=settings.max_message_bytes,
    )
    session.on_capacity = state.dispatcher.queues.capacity_freed
    previous = state.directory.attach(session)
    if previous is not None:
        previous.fail_all("The node reconnected; requests on its old tunnel were lost.")
        await previous.close(CLOSE_REPLACED, "replaced by a newer connection of the same node")
    session.capacity_changed()  # queued requests may fit on the new node
    log.info(
        "node %s (%s) connected: %d models, agent %s",
        node.name,
        node.id,
        len(session.models),
        hello.agent_version,
    )
    try:
        await session.send(
            encode(
                HelloAck(
                    node_id=node.id,
                    heartbeat_interval_s=settings.heartbeat_timeout_s / 3,
                    max_message_bytes=settings.max_message_bytes,
                    window_bytes=settings.stream_window_bytes,
                )
            )
        )
        receive = websocket.receive
        handle = session.handle_frame
        while True:
            frame = await receive()
            handle(frame if isinstance(frame, bytes) else frame.encode())
    except ProtocolError as exc:
        log.warning("node %s broke the protocol: %s", node.name, exc)
        await websocket.close(CLOSE_PROTOCOL_ERROR, str(exc)[:120])
    finally:
        state.directory.detach(session)
        session.fail_all("The node went offline before the answer was complete.")
        # Requests queued for this group re-decide now: another node may take them, or
        # none is left and they get their 503 at once instead of at the queue timeout.
        session.capacity_changed()
        log.info("node %s disconnected", node.name)
    return None
