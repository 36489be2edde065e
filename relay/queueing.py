"""Waiting for capacity: one bounded FIFO per (group, model).

When every node that serves a model is busy, a request waits here, in arrival order, up
to a timeout. Each time capacity frees up in a group (a stream ends, a node joins, loads a
model or resumes), the head of each of the group's queues is woken to try again; a woken
request that still finds no room goes back to the head of its queue. New arrivals queue
behind waiting ones, never overtake them. In-process, like the directory it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class QueueFull(Exception):
    """The queue for this model is at its limit: answer 503 at once."""


class RequestQueues:
    """All the relay's waiting requests. Not thread-safe; lives on the event loop."""

    def __init__(self, *, max_length: int = 64) -> None:
        self._max = max_length
        self._queues: dict[tuple[str, str], deque[asyncio.Future[None]]] = {}

    def lengths(self) -> dict[str, dict[str, int]]:
        """Waiting requests by group id, then model (what the admin API shows)."""
        out: dict[str, dict[str, int]] = {}
        for (group, model), queue in self._queues.items():
            if queue:
                out.setdefault(group, {})[model] = len(queue)
        return out

    def waiting(self, group_id: str, model: str) -> int:
        queue = self._queues.get((group_id, model))
        return len(queue) if queue else 0

    async def wait_turn(self, group_id: str, model: str, *, front: bool = False) -> None:
        """Wait until woken by :meth:`capacity_freed`. Raises :class:`QueueFull` when the
        queue is full (``front`` waiters, already queued once, are never refused). The
        caller bounds the wait (``asyncio.timeout``). Safe to cancel: a turn that was
        already given to this waiter passes on to the next."""
        key = (group_id, model)
        queue = self._queues.setdefault(key, deque())
        if not front and len(queue) >= self._max:
            raise QueueFull(f"{len(queue)} requests are already waiting for {model!r}")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if front:
            queue.appendleft(waiter)
        else:
            queue.append(waiter)
        try:
            await asyncio.shield(waiter)
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._wake(key)  # we were woken but will not use the turn: pass it on
            else:
                with contextlib.suppress(ValueError):
                    queue.remove(waiter)
                waiter.cancel()
            raise
        finally:
            # Drop an empty queue, but only if it is still this key's queue: another
            # waiter may have dropped it already and a new one taken its place.
            if not queue and self._queues.get(key) is queue:
                del self._queues[key]

    def capacity_freed(self, group_id: str) -> None:
        """A slot may be free in ``group_id``: wake the first waiter of each of its queues."""
        for key in [k for k in self._queues if k[0] == group_id]:
            self._wake(key)

    def _wake(self, key: tuple[str, str]) -> None:
        queue = self._queues.get(key)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
