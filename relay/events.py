"""In-process fan-out of what happens on the relay, for live views (the admin socket).

Publishing never blocks and never fails: each subscriber has a bounded queue and, when
it falls behind, loses its oldest events (a live view wants the latest state, and a slow
console must not slow the request path). A Redis-backed hub can replace this one for
several relays without touching the publishers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

Event = tuple[str, dict[str, Any]]


class Subscription:
    """One subscriber's queue; iterate it with ``async for``. Safe to cancel."""

    def __init__(self, hub: EventHub, maxlen: int) -> None:
        self._hub = hub
        self._events: deque[Event] = deque(maxlen=maxlen)
        self._ready = asyncio.Event()
        self.dropped = 0

    def _push(self, event: Event) -> None:
        if len(self._events) == self._events.maxlen:
            self.dropped += 1
        self._events.append(event)
        self._ready.set()

    async def get(self) -> Event:
        while not self._events:
            self._ready.clear()
            await self._ready.wait()
        return self._events.popleft()

    def drain(self) -> list[Event]:
        """Everything queued now, without waiting (for coalescing updates)."""
        events = list(self._events)
        self._events.clear()
        return events

    def close(self) -> None:
        self._hub._subscribers.discard(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self.get()


class EventHub:
    """Publish/subscribe within one relay process; also keeps the last requests seen."""

    def __init__(self, *, recent: int = 200) -> None:
        self._subscribers: set[Subscription] = set()
        self.recent_requests: deque[dict[str, Any]] = deque(maxlen=recent)

    def publish(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "request":
            self.recent_requests.append(payload)
        for subscriber in self._subscribers:
            subscriber._push((kind, payload))

    def subscribe(self, maxlen: int = 1000) -> Subscription:
        subscription = Subscription(self, maxlen)
        self._subscribers.add(subscription)
        return subscription
