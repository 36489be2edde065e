"""Fixtures for the limiter tests: a hand-driven clock and each limiter backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from relay.limits import MemoryLimiter, RateLimiter
from relay.limits.redis_limiter import RedisLimiter, connect

from .redis_support import PrivateRedis, delete_prefix, random_prefix, shared_redis_url


class Clock:
    """A clock that moves only when told (seconds)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


Make = Callable[[], RateLimiter]


@pytest_asyncio.fixture(params=["memory", "redis"])
async def make_limiter(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[Make]:
    """Builds limiters of one backend; Redis ones share one random key prefix (so two of
    them behave like two relays sharing a Redis)."""
    made: list[RateLimiter] = []
    if request.param == "memory":
        shared = MemoryLimiter(clock=clock)

        def make() -> RateLimiter:
            return shared

        yield make
        return
    url = shared_redis_url()
    prefix = random_prefix()

    def make_redis() -> RateLimiter:
        limiter = RedisLimiter(connect(url), prefix=prefix, clock=clock)
        made.append(limiter)
        return limiter

    try:
        yield make_redis
    finally:
        for limiter in made:
            await limiter.close()
        delete_prefix(url, prefix)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
