"""One tunnelled request's way back to the relay: its flow-control credit and its sink."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from agent.outbox import Outbox
from relay.protocol import End, ResponseHead, SendCredit, StreamError, encode, encode_data
from relay.protocol.codec import DATA_PREFIX_LEN


@dataclass
class StreamState:
    """A request being served: its task, and the bytes it may still send (credit)."""

    task: asyncio.Task[None] | None
    credit: SendCredit
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def grant(self, increment: int) -> None:
        self.credit.grant(increment)
        self.wakeup.set()


class StreamSink:
    """Where the forwarder writes one answer. Frames go to the connection's outbox; body
    bytes wait for flow-control credit first, so a slow consumer stalls the backend read.
    Safe to cancel at any await."""

    __slots__ = ("_id", "_limit", "_outbox", "_state")

    def __init__(
        self, outbox: Outbox, stream_id: int, state: StreamState, max_message_bytes: int
    ) -> None:
        self._outbox = outbox
        self._id = stream_id
        self._state = state
        self._limit = max_message_bytes - DATA_PREFIX_LEN

    async def head(self, status: int, content_type: str) -> None:
        self._outbox.put(encode(ResponseHead(self._id, status, content_type)))

    async def data(self, payload: bytes) -> None:
        state = self._state
        for start in range(0, len(payload), self._limit):
            piece = payload[start : start + self._limit] if len(payload) > self._limit else payload
            while state.credit.blocked:
                state.wakeup.clear()
                await state.wakeup.wait()
            state.credit.consume(len(piece))
            self._outbox.put(encode_data(self._id, piece))

    async def end(self, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        self._outbox.put(encode(End(self._id, prompt_tokens, completion_tokens)))

    async def error(
        self, status: int, message: str, code: str | None = None, error_type: str = "server_error"
    ) -> None:
        self._outbox.put(encode(StreamError(self._id, status, message, code, error_type)))
