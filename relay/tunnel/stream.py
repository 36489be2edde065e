"""One consumer request in flight over a tunnel, seen from the relay.

The tunnel's reader feeds it (``on_*`` methods, synchronous, called for each frame) and the
HTTP handler consumes it (``wait_head``, ``next_batch``). Chunks that arrive while the
consumer is busy are joined into one write (coalescing), and at most about one flow-control
window of bytes is ever buffered here: credit goes back to the agent only as the consumer
takes bytes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from relay.protocol import End, ReceiveWindow, ResponseHead, StreamError


class StreamFailed(Exception):
    """The request failed on the far side of the tunnel (or the tunnel itself failed)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        error_type: str = "server_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.error_type = error_type


class TunnelStream:
    """The relay's end of a multiplexed stream. Not thread-safe; lives on the event loop."""

    __slots__ = (
        "_chunks",
        "_failure",
        "_grant",
        "_send_cancel",
        "_waiter",
        "_window",
        "ended",
        "head",
        "id",
        "usage",
    )

    def __init__(
        self,
        stream_id: int,
        window: int,
        grant: Callable[[int, int], Awaitable[None]],
        send_cancel: Callable[[int], Awaitable[None]],
    ) -> None:
        self.id = stream_id
        self.head: asyncio.Future[ResponseHead] = asyncio.get_running_loop().create_future()
        self.usage: End | None = None
        self.ended = False
        self._chunks: deque[bytes] = deque()
        self._failure: StreamFailed | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._window = ReceiveWindow(window)
        self._grant = grant
        self._send_cancel = send_cancel

    # -- fed by the tunnel reader ------------------------------------------------------

    def on_head(self, head: ResponseHead) -> None:
        if not self.head.done():
            self.head.set_result(head)

    def on_data(self, payload: bytes) -> None:
        if self.ended or self._failure is not None:
            return
        self._chunks.append(payload)
        self._wake()

    def on_end(self, end: End) -> None:
        self.usage = end
        self.ended = True
        if not self.head.done():
            self.head.set_exception(
                StreamFailed(502, "The node ended the response without a head.")
            )
        self._wake()

    def fail(self, failure: StreamFailed) -> None:
        """The request failed: before the head the handler answers with its status."""
        if self.ended:
            return
        self._failure = failure
        if not self.head.done():
            self.head.set_exception(failure)
        self._wake()

    def on_error(self, error: StreamError) -> None:
        self.fail(
            StreamFailed(error.status, error.message, code=error.code, error_type=error.error_type)
        )

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- consumed by the HTTP handler --------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.ended or self._failure is not None

    async def wait_head(self) -> ResponseHead:
        """The response head; raises :class:`StreamFailed` if the request failed first."""
        return await asyncio.shield(self.head)

    async def next_batch(self) -> bytes | None:
        """Everything buffered so far as one bytes object; None at the end of the body.

        Raises :class:`StreamFailed` if the stream failed (after any bytes that arrived
        before the failure were returned). Safe to cancel.
        """
        while not self._chunks:
            if self._failure is not None:
                raise self._failure
            if self.ended:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunks = self._chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        credit = self._window.consumed(len(data))
        if credit and not self.finished:
            await self._grant(self.id, credit)
        return data

    async def read_all(self) -> bytes:
        """The whole body (non-streaming answers). Raises :class:`StreamFailed`."""
        parts = []
        while (batch := await self.next_batch()) is not None:
            parts.append(batch)
        return b"".join(parts)

    async def cancel(self) -> None:
        """Tell the agent to abort, unless the stream already finished. Idempotent."""
        if not self.finished:
            self._failure = StreamFailed(499, "cancelled by the consumer")
            await self._send_cancel(self.id)
