"""The agent's single writer to the tunnel: frames queue here and leave in batches.

Every stream's head, body chunks and end, and the heartbeats, are appended without
waiting; one task sends whatever has accumulated as one WebSocket message (a batch
frame). Under load many streams' chunks share a message, which is what the relay's side
pays for; at rest a frame leaves on the next turn of the event loop. Memory stays bounded
because body bytes are only queued within each stream's flow-control credit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from relay.protocol import encode_batch

# Room for the batch's length prefixes within the relay's message limit.
_BATCH_OVERHEAD = 4


class Outbox:
    """Frames waiting to be sent on one tunnel connection. Not thread-safe."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], max_message_bytes: int) -> None:
        self._send = send
        self._limit = max_message_bytes - 1
        self._frames: list[bytes] = []
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the writer (unsent frames are dropped: the connection is going away)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def put(self, frame: bytes) -> None:
        """Queue a frame; never blocks."""
        self._frames.append(frame)
        self._idle.clear()
        self._ready.set()

    async def flush(self) -> None:
        """Wait until everything queued so far has been handed to the socket."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            frames, self._frames = self._frames, []
            for message in _pack(frames, self._limit):
                await self._send(message)
            if not self._frames:
                self._idle.set()


def _pack(frames: list[bytes], limit: int) -> list[bytes]:
    """Group frames into batches that fit in one message each."""
    messages: list[bytes] = []
    batch: list[bytes] = []
    size = 0
    for frame in frames:
        cost = len(frame) + _BATCH_OVERHEAD
        if batch and size + cost > limit:
            messages.append(encode_batch(batch))
            batch, size = [], 0
        batch.append(frame)
        size += cost
    if batch:
        messages.append(encode_batch(batch))
    return messages
