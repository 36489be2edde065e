"""Redis stopped mid-test: the relay keeps serving (fail open on limits, never on auth),
logs it once, and counts in Redis again once it is back. Uses a private redis-server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from storage import LimitScope
from tests.e2e.test_limits import post, set_limits
from tests.harness import AgentProc, Circle, RelayProc, SimBackend, wait_for_model, wait_until
from tests.relay.limits.redis_support import PrivateRedis, count_prefix, random_prefix


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_redis_stopped_mid_test_requests_keep_being_served(
    start_relay: Callable[..., RelayProc],
    start_agent: Callable[..., AgentProc],
    circle: Circle,
    sim: SimBackend,
    private_redis: PrivateRedis,
) -> None:
    prefix = random_prefix()
    set_limits(circle, (LimitScope.KEY, circle.key_id, {"rpm": 1000}))
    relay = start_relay(
        settings={
            "rate_limiter": "redis",
            "redis_url": private_redis.url,
            "redis_key_prefix": prefix,
            "redis_retry_s": "0.2",
        }
    )
    start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    assert post(relay, circle.api_key).status_code == 200
    assert count_prefix(private_redis.url, prefix) == 1  # counted in Redis

    private_redis.stop()
    served = [post(relay, circle.api_key) for _ in range(10)]
    assert [r.status_code for r in served] == [200] * 10
    assert all(r.headers["x-ratelimit-limit-requests"] == "1000" for r in served)
    bad = httpx.post(
        relay.url + "/v1/chat/completions",
        json={"model": "sim-model", "messages": []},
        headers={"Authorization": "Bearer llmc-" + "x" * 40},
    )
    assert bad.status_code == 401  # authentication never fails open
    assert relay.output().count("Redis is unreachable") == 1  # logged once

    private_redis.start()  # empty: it kept nothing

    def counted_in_redis_again() -> bool:
        assert post(relay, circle.api_key).status_code == 200
        return count_prefix(private_redis.url, prefix) > 0

    wait_until(counted_in_redis_again, timeout=10, what="the relay to use Redis again")
    assert "Redis answers again" in relay.output()
