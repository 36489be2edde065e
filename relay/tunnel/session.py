"""A connected agent, seen from the relay: its inventory, load and multiplexed streams.

The WebSocket handler owns the socket and gives the session two callables (send a frame,
close the socket); the session only parses frames and routes them to streams, so it can be
driven in tests without a network.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from relay.protocol import (
    Cancel,
    Data,
    Drain,
    End,
    Heartbeat,
    Hello,
    Inventory,
    ModelEntry,
    OpenStream,
    ProtocolError,
    ResponseHead,
    StreamError,
    Window,
    decode,
    encode,
)
from relay.protocol.codec import DATA_PREFIX_LEN, KIND_BATCH, decode_data_header, split_frames
from relay.tunnel.stream import StreamFailed, TunnelStream

log = logging.getLogger(__name__)

SendFrame = Callable[[bytes], Awaitable[None]]
CloseSocket = Callable[[int, str], Awaitable[None]]

# WebSocket close codes (4000-4999 are the application's own).
CLOSE_PROTOCOL_MISMATCH = 4001
CLOSE_PROTOCOL_ERROR = 4002
CLOSE_REVOKED = 4003
CLOSE_REPLACED = 4004
CLOSE_HEARTBEAT_TIMEOUT = 4008
CLOSE_RELAY_SHUTDOWN = 1001


class AgentSession:
    """One live tunnel. Created after a valid hello; discarded when the socket closes."""

    def __init__(
        self,
        *,
        node_id: str,
        node_name: str,
        group_id: str,
        hello: Hello,
        send: SendFrame,
        close: CloseSocket,
        window_bytes: int,
        max_message_bytes: int,
    ) -> None:
        self.node_id = node_id
        self.node_name = node_name
        self.group_id = group_id
        self.agent_version = hello.agent_version
        self.max_concurrency = hello.max_concurrency
        self.models: dict[str, ModelEntry] = {m.id: m for m in hello.models}
        self.backends: tuple[dict[str, Any], ...] = hello.backends
        self.gpus: tuple[dict[str, Any], ...] | None = hello.gpus
        self.agent_in_flight = 0
        self.draining = False
        self.closed = False
        self.connected_at = time.time()
        self.last_seen = time.monotonic()
        self.streams: dict[int, TunnelStream] = {}
        self._next_stream = 1
        self._send_frame = send
        self._close_socket = close
        self._send_lock = asyncio.Lock()
        self._window = window_bytes
        self._max_message = max_message_bytes
        # Told the group id whenever this node may have room for one more request (a
        # stream ended, its models changed, it stopped draining), to wake queued requests.
        self.on_capacity: Callable[[str], None] | None = None

    # -- state ---------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self.streams)

    @property
    def available(self) -> bool:
        return not (self.closed or self.draining)

    def serves(self, model: str) -> bool:
        return model in self.models

    # -- sending -------------------------------------------------------------------

    async def send(self, frame: bytes) -> None:
        async with self._send_lock:
            await self._send_frame(frame)

    async def open_stream(
        self, method: str, route: str, body: bytes, deadline_s: float
    ) -> TunnelStream:
        """Start forwarding a request; the caller awaits the returned stream's head.

        If the send fails the stream is removed again and :class:`StreamFailed` raised.
        """
        if not self.available:
            raise StreamFailed(
                503, "The node is no longer accepting requests.", code="node_unavailable"
            )
        stream_id = self._next_stream
        self._next_stream = stream_id + 1 if stream_id < 2**32 - 1 else 1
        stream = TunnelStream(stream_id, self._window, self._grant, self._cancel)
        self.streams[stream_id] = stream
        frame = encode(OpenStream(stream_id, method, route, body, deadline_s))
        if len(frame) > self._max_message:
            del self.streams[stream_id]
            raise StreamFailed(
                413,
                "The request body is larger than the tunnel allows.",
                code="request_too_large",
                error_type="invalid_request_error",
            )
        try:
            await self.send(frame)
        except Exception as exc:
            self.streams.pop(stream_id, None)
            raise StreamFailed(
                502, "The node's tunnel failed while sending the request.", code="node_unreachable"
            ) from exc
        return stream

    async def _grant(self, stream_id: int, credit: int) -> None:
        if stream_id in self.streams and not self.closed:
            try:
                await self.send(encode(Window(stream_id, credit)))
            except Exception:  # the reader notices the dead socket and fails the streams
                log.debug("could not send window update to %s", self.node_name)

    def capacity_changed(self) -> None:
        if self.on_capacity is not None:
            self.on_capacity(self.group_id)

    async def _cancel(self, stream_id: int) -> None:
        if self.streams.pop(stream_id, None) is None:
            return
        self.capacity_changed()
        if not self.closed:
            try:
                await self.send(encode(Cancel(stream_id)))
            except Exception:
                log.debug("could not send cancel to %s", self.node_name)

    async def close(self, code: int, reason: str) -> None:
        """Close the socket (the reader then ends and calls :meth:`fail_all`)."""
        await self._close_socket(code, reason)

    # -- receiving -----------------------------------------------------------------

    def handle_frame(self, frame: bytes) -> None:
        """Route one WebSocket message from the agent (a frame or a batch of frames).
        Raises :class:`ProtocolError` on a bad frame."""
        self.last_seen = time.monotonic()
        if frame and frame[0] == KIND_BATCH:
            for inner in split_frames(frame):
                self._handle_one(inner)
        else:
            self._handle_one(frame)

    def _handle_one(self, frame: bytes) -> None:
        stream_id = decode_data_header(frame)
        if stream_id is not None:  # the per-chunk fast path: no decode, no JSON
            stream = self.streams.get(stream_id)
            if stream is not None:
                stream.on_data(frame[DATA_PREFIX_LEN:])
            return
        message = decode(frame, max_bytes=self._max_message)
        if isinstance(message, ResponseHead):
            stream = self.streams.get(message.stream)
            if stream is not None:
                stream.on_head(message)
        elif isinstance(message, End):
            stream = self.streams.pop(message.stream, None)
            if stream is not None:
                stream.on_end(message)
                self.capacity_changed()
        elif isinstance(message, StreamError):
            stream = self.streams.pop(message.stream, None)
            if stream is not None:
                stream.on_error(message)
                self.capacity_changed()
        elif isinstance(message, Heartbeat):
            self.agent_in_flight = message.in_flight
            self.gpus = message.gpus
        elif isinstance(message, Inventory):
            self.models = {m.id: m for m in message.models}
            self.backends = message.backends
            self.capacity_changed()
        elif isinstance(message, Drain):
            log.info("node %s is draining: %s", self.node_name, message.reason or "no reason given")
            self.draining = True
        elif isinstance(message, Data):  # pragma: no cover - handled by the fast path
            pass
        else:
            raise ProtocolError(f"unexpected {type(message).__name__} from an agent")

    def fail_all(self, message: str, *, code: str = "node_disconnected") -> None:
        """The tunnel is gone: every open stream fails now (no consumer is left waiting)."""
        self.closed = True
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            stream.fail(StreamFailed(502, message, code=code))
