"""Per-stream flow control, sans-I/O: a credit window of bytes in flight.

The agent may have at most ``window`` bytes of one stream's body sent but not yet passed
on to the consumer. The relay grants credit back (a ``Window`` message) once the consumer
has taken at least half a window, so a slow consumer stops the agent reading from its
backend instead of making either side buffer without bound.
"""

from __future__ import annotations


class SendCredit:
    """The sender's view (agent): how many bytes it may still send on a stream."""

    __slots__ = ("available",)

    def __init__(self, window: int) -> None:
        self.available = window

    def consume(self, size: int) -> None:
        """Account for ``size`` bytes sent. Sending past zero is allowed for the one chunk
        that crosses the limit (a chunk is never split), after which the sender waits."""
        self.available -= size

    def grant(self, increment: int) -> None:
        self.available += increment

    @property
    def blocked(self) -> bool:
        return self.available <= 0


class ReceiveWindow:
    """The receiver's view (relay): when to hand credit back to the sender."""

    __slots__ = ("_pending", "_threshold")

    def __init__(self, window: int) -> None:
        self._threshold = max(1, window // 2)
        self._pending = 0

    def consumed(self, size: int) -> int:
        """Record ``size`` bytes passed on; return the credit to grant now (0 for none yet)."""
        self._pending += size
        if self._pending < self._threshold:
            return 0
        grant, self._pending = self._pending, 0
        return grant
