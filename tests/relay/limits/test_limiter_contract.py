"""The :class:`RateLimiter` contract, on the in-process and the Redis backend alike.

Time is a hand-driven clock (the Redis limiter is handed it in place of Redis's TIME),
so every number below is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest

from relay.auth import Principal
from relay.limits import Decision, Policy, RateLimiter
from relay.limits.policy import GroupLimits
from storage import LimitScope, RateLimit

from .conftest import Clock, Make

NOW = datetime(2025, 1, 1, tzinfo=UTC)
G = "g1"


def row(scope: LimitScope, subject: str, rpm: int | None = None, tpm: int | None = None,
        conc: int | None = None) -> RateLimit:  # fmt: skip
    return RateLimit(G, scope, subject, rpm, tpm, conc, NOW)


def policy(rows: list[RateLimit], key: str, user: str) -> Policy:
    return GroupLimits.from_rows(rows).policy(Principal(key, f"name-{key}", user, G))


async def admit(limiter: RateLimiter, pol: Policy, n: int, tokens: int = 0) -> list[Decision]:
    return [await limiter.acquire(pol, tokens) for _ in range(n)]


def allowed(decisions: list[Decision]) -> list[bool]:
    return [d.allowed for d in decisions]


async def test_each_tier_trips_independently_at_its_limit(make_limiter: Make) -> None:
    limiter = make_limiter()
    rows = [
        row(LimitScope.GROUP, G, rpm=10),
        row(LimitScope.USER, "alice", rpm=5),
        row(LimitScope.KEY, "k1", rpm=3),
    ]
    k1, k2 = policy(rows, "k1", "alice"), policy(rows, "k2", "alice")
    k3 = policy(rows, "k3", "bob")
    # the key tier: k1 alone may send 3
    got = await admit(limiter, k1, 4)
    assert allowed(got) == [True, True, True, False]
    assert (got[3].tier and got[3].tier.kind, got[3].dimension, got[3].limit) == (
        "key",
        "requests",
        3,
    )
    # the user tier: alice's other key gets the 2 left of her 5
    got = await admit(limiter, k2, 3)
    assert allowed(got) == [True, True, False]
    assert got[2].tier is not None and got[2].tier.kind == "user" and got[2].limit == 5
    # the group tier: bob gets the 5 left of the group's 10
    got = await admit(limiter, k3, 6)
    assert allowed(got) == [True] * 5 + [False]
    assert got[5].tier is not None and got[5].tier.kind == "group" and got[5].limit == 10


async def test_refused_requests_charge_no_tier(make_limiter: Make) -> None:
    limiter = make_limiter()
    rows = [row(LimitScope.GROUP, G, rpm=10), row(LimitScope.KEY, "k1", rpm=1)]
    assert allowed(await admit(limiter, policy(rows, "k1", "alice"), 5)) == [True] + [False] * 4
    other = await limiter.acquire(policy(rows, "k2", "bob"), 0)
    assert other.requests is not None and other.requests.remaining == 8  # 10 - k1's 1 - this


async def test_requests_refill_and_retry_after(make_limiter: Make, clock: Clock) -> None:
    limiter = make_limiter()
    pol = policy([row(LimitScope.KEY, "k1", rpm=10)], "k1", "alice")
    got = await admit(limiter, pol, 11)
    assert allowed(got) == [True] * 10 + [False]
    assert got[10].retry_after_s == pytest.approx(6.0, abs=0.01)  # one request per 6 s
    clock.advance(5.9)
    assert not (await limiter.acquire(pol, 0)).allowed
    clock.advance(0.2)
    assert (await limiter.acquire(pol, 0)).allowed
    clock.advance(60)
    assert allowed(await admit(limiter, pol, 11)) == [True] * 10 + [False]


async def test_headers_show_the_most_constraining_tier(make_limiter: Make) -> None:
    limiter = make_limiter()
    rows = [
        row(LimitScope.GROUP, G, rpm=3, tpm=10_000),
        row(LimitScope.KEY, "k1", rpm=100, tpm=1000),
    ]
    first = await limiter.acquire(policy(rows, "k1", "alice"), 100)
    assert first.requests is not None and first.tokens is not None
    assert (first.requests.limit, first.requests.remaining) == (3, 2)
    assert first.requests.reset_s == pytest.approx(20.0, abs=0.01)
    assert (first.tokens.limit, first.tokens.remaining) == (1000, 900)
    assert first.tokens.reset_s == pytest.approx(6.0, abs=0.01)
    await admit(limiter, policy(rows, "k1", "alice"), 2)
    refused = await limiter.acquire(policy(rows, "k1", "alice"), 100)
    assert not refused.allowed and refused.requests is not None
    assert (refused.requests.limit, refused.requests.remaining) == (3, 0)
    assert refused.retry_after_s == pytest.approx(20.0, abs=0.01)


async def test_tokens_are_charged_up_front_and_settled(make_limiter: Make) -> None:
    limiter = make_limiter()
    pol = policy([row(LimitScope.KEY, "k1", tpm=100)], "k1", "alice")
    first = await limiter.acquire(pol, 30)
    assert first.allowed and first.ticket is not None
    assert first.tokens is not None and first.tokens.remaining == 70
    await limiter.settle(first.ticket, 90)  # the answer was longer than estimated
    await limiter.settle(first.ticket, 1000)  # a second settle is a no-op
    refused = await limiter.acquire(pol, 30)
    assert not refused.allowed and refused.dimension == "tokens" and refused.limit == 100
    assert refused.tokens is not None and refused.tokens.remaining == 10
    assert refused.retry_after_s == pytest.approx((90 + 30 - 100) * 0.6, abs=0.01)
    small = await limiter.acquire(pol, 10)
    assert small.allowed and small.ticket is not None
    await limiter.settle(small.ticket, 0)  # refunded
    again = await limiter.acquire(pol, 10)
    assert again.allowed and again.tokens is not None and again.tokens.remaining == 0


async def test_a_request_larger_than_the_budget_passes_once_then_waits(
    make_limiter: Make, clock: Clock
) -> None:
    limiter = make_limiter()
    pol = policy([row(LimitScope.KEY, "k1", tpm=100)], "k1", "alice")
    big = await limiter.acquire(pol, 500)
    assert big.allowed and big.ticket is not None
    await limiter.settle(big.ticket, 500)
    refused = await limiter.acquire(pol, 1)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx((500 + 1 - 100) * 0.6, abs=0.01)
    clock.advance(refused.retry_after_s + 0.01)
    assert (await limiter.acquire(pol, 1)).allowed


async def test_concurrency_slots(make_limiter: Make) -> None:
    limiter = make_limiter()
    rows = [row(LimitScope.USER, "alice", conc=2)]
    a, b = policy(rows, "k1", "alice"), policy(rows, "k2", "alice")
    one, two, three = await admit(limiter, a, 1) + await admit(limiter, b, 2)
    assert (one.allowed, two.allowed, three.allowed) == (True, True, False)
    assert three.dimension == "concurrency" and three.limit == 2 and three.retry_after_s == 1.0
    assert one.ticket is not None
    await limiter.settle(one.ticket, None)
    await limiter.settle(one.ticket, None)  # freeing twice frees one slot
    assert allowed(await admit(limiter, a, 2)) == [True, False]
    assert (await limiter.acquire(policy(rows, "k3", "bob"), 0)).allowed  # bob's own slots


async def test_group_default_applies_value_by_value(make_limiter: Make) -> None:
    limiter = make_limiter()
    rows = [row(LimitScope.DEFAULT, G, rpm=2, tpm=50), row(LimitScope.KEY, "k1", rpm=4)]
    own = policy(rows, "k1", "alice")
    assert [(t.kind, t.limits.rpm, t.limits.tpm) for t in own] == [
        ("key", 4, 50),  # its own rpm, the default tpm
        ("user", 2, 50),  # users get the default too
    ]
    assert allowed(await admit(limiter, policy(rows, "k2", "bob"), 3)) == [True, True, False]
    assert policy([], "k1", "alice") == ()


async def test_two_relays_sharing_redis_share_counters(make_limiter: Make) -> None:
    """Two limiter instances (two relays) alternate; together they admit exactly the limit.
    (With the in-process backend both "relays" are one process: the same holds.)"""
    relay_a, relay_b = make_limiter(), make_limiter()
    pol = policy([row(LimitScope.KEY, "k1", rpm=10)], "k1", "alice")
    results = [await (relay_a if i % 2 else relay_b).acquire(pol, 0) for i in range(20)]
    assert allowed(results) == [True] * 10 + [False] * 10


async def test_redis_slots_of_a_crashed_relay_expire(clock: Clock) -> None:
    """A relay that dies holding concurrency slots does not hold them for ever."""
    from relay.limits.redis_limiter import RedisLimiter, connect

    from .redis_support import delete_prefix, random_prefix, shared_redis_url

    url, prefix = shared_redis_url(), random_prefix()
    crashed = RedisLimiter(connect(url), prefix=prefix, slot_ttl_s=30, clock=clock)
    other = RedisLimiter(connect(url), prefix=prefix, slot_ttl_s=30, clock=clock)
    pol = policy([row(LimitScope.KEY, "k1", conc=1)], "k1", "alice")
    try:
        assert (await crashed.acquire(pol, 0)).allowed  # never settled
        assert not (await other.acquire(pol, 0)).allowed
        clock.advance(31)
        assert (await other.acquire(pol, 0)).allowed
    finally:
        await crashed.close()
        await other.close()
        delete_prefix(url, prefix)


async def test_a_cancelled_acquire_holds_no_slot(make_limiter: Make) -> None:
    limiter = make_limiter()
    pol = policy([row(LimitScope.KEY, "k1", conc=1)], "k1", "alice")
    for _ in range(5):
        task = asyncio.ensure_future(limiter.acquire(pol, 0))
        await asyncio.sleep(0)  # let it start (for Redis: the script is on its way)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            decision = await task
            if decision.ticket is not None:  # the in-process limiter finished at once
                await limiter.settle(decision.ticket, 0)
        await limiter.drain()
    assert (await limiter.acquire(pol, 0)).allowed
