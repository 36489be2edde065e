"""Three-tier rate limits (per key, per user in a group, per group).

* :mod:`relay.limits.base`: the :class:`RateLimiter` interface and its value types;
* :mod:`relay.limits.memory`: in-process counters (the default, one relay);
* :mod:`relay.limits.redis_limiter`: counters in Redis shared by relays (Lua, atomic);
* :mod:`relay.limits.failover`: Redis with the in-process limiter as fail-open fallback;
* :mod:`relay.limits.policy`: stored limits, cached, resolved for a principal;
* :mod:`relay.limits.headers`: ``x-ratelimit-*`` / ``Retry-After`` values and messages.

Nothing in this package imports a web framework; the HTTP handler stays thin.
"""

from __future__ import annotations

from config import RelaySettings
from relay.limits.base import (
    ALLOW_ALL,
    Decision,
    Limits,
    Policy,
    Quota,
    RateLimiter,
    Ticket,
    Tier,
)
from relay.limits.memory import MemoryLimiter
from relay.limits.policy import LimitBook

__all__ = [
    "ALLOW_ALL",
    "Decision",
    "LimitBook",
    "Limits",
    "MemoryLimiter",
    "Policy",
    "Quota",
    "RateLimiter",
    "Ticket",
    "Tier",
    "build_limiter",
]


def build_limiter(settings: RelaySettings) -> RateLimiter:
    """The limiter the settings ask for: in-process, or Redis with in-process fallback.

    Connects lazily: a Redis that is down at start-up only means starting on the
    fallback. Concurrency slots in Redis outlive a crashed relay by at most
    ``request_timeout_s`` plus a minute.
    """
    if settings.rate_limiter != "redis" or settings.redis_url is None:
        return MemoryLimiter()
    from relay.limits.failover import FailoverLimiter
    from relay.limits.redis_limiter import RedisLimiter, connect

    primary = RedisLimiter(
        connect(settings.redis_url),
        prefix=settings.redis_key_prefix,
        slot_ttl_s=settings.request_timeout_s + 60,
    )
    return FailoverLimiter(primary, retry_s=settings.redis_retry_s)
