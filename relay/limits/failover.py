"""Redis when it answers, the in-process limiter when it does not: fail open on limits.

Rate limits protect fairness, not security, so an unreachable Redis must not stop the
relay: the first failure is logged once (a warning) and requests are counted in-process
from then on. Every ``retry_s`` one background probe (``PING``) tries Redis again; when
it answers, new requests are counted in Redis again (logged once too). Tickets remember
which limiter admitted them and are settled there. Authentication never passes through
here: this fails open on limits only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from relay.limits.base import Decision, Policy, RateLimiter, Ticket
from relay.limits.memory import MemoryLimiter
from relay.limits.redis_limiter import RedisLimiter

log = logging.getLogger(__name__)

#: What counts as "Redis is unreachable".
FAILURES = (RedisError, OSError, TimeoutError)


class FailoverLimiter(RateLimiter):
    """:class:`RedisLimiter` with a :class:`MemoryLimiter` to fall back on."""

    def __init__(
        self,
        primary: RedisLimiter,
        fallback: MemoryLimiter | None = None,
        *,
        retry_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback = fallback or MemoryLimiter()
        self._retry_s = retry_s
        self._clock = clock
        self._up = True
        self._next_probe = 0.0
        self._probe: asyncio.Task[None] | None = None

    @property
    def using_redis(self) -> bool:
        """Whether new requests are counted in Redis right now."""
        return self._up

    async def acquire(self, policy: Policy, estimated_tokens: int) -> Decision:
        if self._up:
            try:
                return await self.primary.acquire(policy, estimated_tokens)
            except FAILURES as exc:
                self._went_down(exc)
        else:
            self._maybe_probe()
        return self.fallback.acquire_now(policy, estimated_tokens)

    async def settle(self, ticket: Ticket, actual_tokens: int | None) -> None:
        if ticket.owner is not self.primary:
            self.fallback.settle_soon(ticket, actual_tokens)
            return
        try:
            await self.primary.settle(ticket, actual_tokens)
        except FAILURES as exc:  # its slot expires in Redis on its own
            self._went_down(exc)

    def settle_soon(self, ticket: Ticket, actual_tokens: int | None) -> None:
        if ticket.owner is self.primary:
            super().settle_soon(ticket, actual_tokens)
        else:
            self.fallback.settle_soon(ticket, actual_tokens)

    def _went_down(self, exc: BaseException) -> None:
        if self._up:
            self._up = False
            self._next_probe = self._clock() + self._retry_s
            log.warning(
                "Redis is unreachable (%s); rate limits are counted in this process until"
                " it answers again",
                type(exc).__name__,
            )

    def _maybe_probe(self) -> None:
        """Start one probe if it is time and none is running (never waits for it)."""
        if self._probe is not None or self._clock() < self._next_probe:
            return
        self._probe = asyncio.get_running_loop().create_task(self._run_probe())

    async def _run_probe(self) -> None:
        try:
            await self.primary.ping()
        except FAILURES as exc:
            log.debug("Redis still unreachable: %s", type(exc).__name__)
            self._next_probe = self._clock() + self._retry_s
        else:
            self._up = True
            log.warning("Redis answers again; rate limits are shared through it again")
        finally:
            self._probe = None

    async def recheck(self) -> bool:
        """Try Redis now (whatever the schedule); return :attr:`using_redis`. For an
        operator's "check again" and for tests. Safe to cancel."""
        if not self._up:
            if self._probe is None:
                self._probe = asyncio.get_running_loop().create_task(self._run_probe())
            await asyncio.shield(self._probe)
        return self._up

    async def wait_probe(self) -> bool:
        """Wait for a probe in progress, if any; return :attr:`using_redis`."""
        if self._probe is not None:
            await asyncio.shield(self._probe)
        return self._up

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self.primary.close()
