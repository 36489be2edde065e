"""The in-process rate limiter: GCRA counters in dicts, for a single relay process.

Every call runs to completion without awaiting, so it is atomic on the event loop with no
lock at all, and costs O(tiers) dict operations per request. Counters that have drained
are swept every :data:`SWEEP_EVERY` requests, so memory follows the active keys only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from relay.limits import gcra
from relay.limits.base import WINDOW_S, Decision, Policy, Quota, RateLimiter, Ticket

SWEEP_EVERY = 4096


class MemoryLimiter(RateLimiter):
    """Counters for this process only. ``clock`` (seconds, monotonic) is for tests."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._active: dict[str, int] = {}
        self._calls = 0

    async def acquire(self, policy: Policy, estimated_tokens: int) -> Decision:
        return self.acquire_now(policy, estimated_tokens)

    def acquire_now(self, policy: Policy, estimated_tokens: int) -> Decision:
        """:meth:`acquire` without the coroutine (it never waits).

        The fast path (admitted) only does float arithmetic and dict updates; a refusal
        takes the slower road through :func:`gcra.judge` for its explanation.
        """
        now = self._clock()
        self._calls += 1
        if self._calls % SWEEP_EVERY == 0:
            self._sweep(now)
        tat, active = self._tat, self._active
        ceiling = WINDOW_S + gcra.EPS
        charged: list[tuple[str, float]] = []
        requests: tuple[int, int, float] | None = None  # the tightest (remaining, limit, fill)
        tokens: tuple[int, int, float] | None = None
        for tier in policy:
            limits = tier.limits
            rpm, tpm = limits.rpm, limits.tpm
            if rpm is not None:
                key = tier.bucket + ":r"
                base = tat.get(key, now)
                fill = (base if base > now else now) - now + WINDOW_S / rpm
                if fill > ceiling:
                    return self._refuse(policy, estimated_tokens, now)
                charged.append((key, now + fill))
                left = int((WINDOW_S - fill) * rpm / WINDOW_S + gcra.EPS)
                if requests is None or (left, rpm) < requests[:2]:
                    requests = (left, rpm, fill)
            if tpm is not None:
                key = tier.bucket + ":t"
                cost = estimated_tokens if estimated_tokens < tpm else tpm
                base = tat.get(key, now)
                fill = (base if base > now else now) - now + max(cost, 0) * WINDOW_S / tpm
                if fill > ceiling:
                    return self._refuse(policy, estimated_tokens, now)
                charged.append((key, now + fill))
                left = int((WINDOW_S - fill) * tpm / WINDOW_S + gcra.EPS)
                if tokens is None or (left, tpm) < tokens[:2]:
                    tokens = (left, tpm, fill)
            cap = limits.max_concurrent
            if cap is not None and active.get(tier.bucket, 0) >= cap:
                return self._refuse(policy, estimated_tokens, now)
        for key, after in charged:
            tat[key] = after
        for tier in policy:
            if tier.limits.max_concurrent is not None:
                active[tier.bucket] = active.get(tier.bucket, 0) + 1
        return Decision(
            True,
            Ticket(policy, estimated_tokens, self),
            requests=None if requests is None else _quota(requests),
            tokens=None if tokens is None else _quota(tokens),
        )

    def _refuse(self, policy: Policy, estimated_tokens: int, now: float) -> Decision:
        """The refusal of a request (nothing charged), with the readings that explain it."""
        readings: list[gcra.Reading] = []
        for tier in policy:
            limits, bucket = tier.limits, tier.bucket
            reading = gcra.Reading(tier)
            if limits.rpm is not None:
                before = max(self._tat.get(bucket + ":r", now), now)
                reading.req_before = before - now
                reading.req_after = gcra.charge(before, now, limits.rpm, 1) - now
            if limits.tpm is not None:
                before = max(self._tat.get(bucket + ":t", now), now)
                cost = gcra.token_cost(estimated_tokens, limits.tpm)
                reading.tok_before = before - now
                reading.tok_after = gcra.charge(before, now, limits.tpm, cost) - now
            if limits.max_concurrent is not None:
                reading.active = self._active.get(bucket, 0)
            readings.append(reading)
        return gcra.judge(policy, readings, False)

    async def settle(self, ticket: Ticket, actual_tokens: int | None) -> None:
        self.settle_soon(ticket, actual_tokens)

    def settle_soon(self, ticket: Ticket, actual_tokens: int | None) -> None:
        """Settle at once (nothing to wait for in-process)."""
        if ticket.settled:
            return
        ticket.settled = True
        now = self._clock()
        for tier in ticket.policy:
            limits, bucket = tier.limits, tier.bucket
            if limits.tpm is not None and actual_tokens is not None:
                charged = gcra.token_cost(ticket.charged_tokens, limits.tpm)
                delta = actual_tokens - charged
                if delta:
                    key = bucket + ":t"
                    tat = self._tat.get(key, now)
                    self._tat[key] = gcra.settle_tat(tat, now, limits.tpm, delta)
            if limits.max_concurrent is not None:
                left = self._active.get(bucket, 0) - 1
                if left > 0:
                    self._active[bucket] = left
                else:
                    self._active.pop(bucket, None)

    def _sweep(self, now: float) -> None:
        """Forget counters that have drained (their absence means the same)."""
        self._tat = {k: v for k, v in self._tat.items() if v > now}

    def __len__(self) -> int:
        """How many counters are held (for tests of the sweep)."""
        return len(self._tat)


def _quota(tightest: tuple[int, int, float]) -> Quota:
    left, limit, fill = tightest
    return Quota(limit, max(left, 0), max(fill, 0.0))
