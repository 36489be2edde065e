"""Fail-open on limits: a Redis that goes away and comes back (a private redis-server)."""

from __future__ import annotations

import logging

import pytest

from relay.auth import Principal
from relay.limits.failover import FailoverLimiter
from relay.limits.policy import GroupLimits
from relay.limits.redis_limiter import RedisLimiter, connect
from storage import LimitScope

from .conftest import Clock
from .redis_support import PrivateRedis, count_prefix, random_prefix
from .test_limiter_contract import G, row


async def test_redis_down_falls_back_logs_once_and_recovers(
    private_redis: PrivateRedis, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = random_prefix()
    limiter = FailoverLimiter(
        RedisLimiter(connect(private_redis.url), prefix=prefix), retry_s=5.0, clock=clock
    )
    pol = GroupLimits.from_rows([row(LimitScope.KEY, "k1", rpm=3, conc=10)]).policy(
        Principal("k1", "laptop", "alice", G)
    )
    caplog.set_level(logging.WARNING, logger="relay.limits.failover")
    try:
        first = await limiter.acquire(pol, 0)
        assert first.allowed and first.ticket is not None
        assert first.ticket.owner is limiter.primary and limiter.using_redis
        assert count_prefix(private_redis.url, prefix) == 2  # the rpm counter and the slot

        private_redis.stop()
        down = [await limiter.acquire(pol, 0) for _ in range(4)]
        # served by the in-process limiter, which counts from zero: 3 of 4 pass
        assert [d.allowed for d in down] == [True, True, True, False]
        assert all(d.ticket is None or d.ticket.owner is limiter.fallback for d in down)
        assert not limiter.using_redis
        await limiter.settle(first.ticket, None)  # a Redis ticket while Redis is down: no raise
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()

        private_redis.start()
        assert await limiter.recheck() is True
        back = await limiter.acquire(pol, 0)
        assert back.allowed and back.ticket is not None and back.ticket.owner is limiter.primary
        assert count_prefix(private_redis.url, prefix) >= 1  # counted in Redis again
        assert "answers again" in caplog.records[-1].getMessage()
        for decision in down:  # fallback tickets settle in-process
            if decision.ticket is not None:
                await limiter.settle(decision.ticket, 0)
    finally:
        await limiter.close()


async def test_probe_waits_for_retry_interval(private_redis: PrivateRedis, clock: Clock) -> None:
    limiter = FailoverLimiter(
        RedisLimiter(connect(private_redis.url), prefix=random_prefix()), retry_s=5.0, clock=clock
    )
    pol = GroupLimits.from_rows([row(LimitScope.KEY, "k1", rpm=100)]).policy(
        Principal("k1", "laptop", "alice", G)
    )
    try:
        private_redis.stop()
        assert (await limiter.acquire(pol, 0)).allowed
        private_redis.start()
        assert (await limiter.acquire(pol, 0)).allowed
        assert not limiter.using_redis  # too early to try Redis again: no probe yet
        clock.advance(5.1)
        await limiter.acquire(pol, 0)  # starts one probe in the background
        assert await limiter.wait_probe() is True
        assert limiter.using_redis
    finally:
        await limiter.close()


async def test_settings_choose_the_limiter() -> None:
    from config import ConfigError, RelaySettings, load_relay_settings
    from relay.limits import MemoryLimiter, build_limiter

    assert isinstance(build_limiter(RelaySettings()), MemoryLimiter)
    shared = build_limiter(RelaySettings(rate_limiter="redis", redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(shared, FailoverLimiter) and shared.using_redis
    await shared.close()
    with pytest.raises(ConfigError, match="redis_url"):
        load_relay_settings(env={"LLMCLUSTER_RELAY_RATE_LIMITER": "redis"})
    with pytest.raises(ConfigError, match=r"RATE_LIMITER.*'memory', 'redis'"):
        load_relay_settings(env={"LLMCLUSTER_RELAY_RATE_LIMITER": "etcd"})
