"""The Redis rate limiter: the same GCRA counters, shared by every relay using one Redis.

Each call is one Lua script (``EVALSHA``), so checking and charging all tiers is atomic
across relays. Times come from Redis (``TIME``), not from the relays, so relays with
skewed clocks agree. Keys are ``<prefix>rl:{<group id>}:<tier>:<subject>:<r|t|c>``: the
``{group id}`` hash tag keeps one request's keys in one Redis Cluster slot. Counters
expire once drained; a concurrency slot (a sorted-set member) expires on its own after
``slot_ttl_s`` if its relay died before freeing it.

Errors (Redis down, timeouts) propagate as ``redis.exceptions.RedisError`` or
``OSError``; :class:`~relay.limits.failover.FailoverLimiter` turns them into fail-open.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from relay.limits import gcra
from relay.limits.base import Decision, Policy, RateLimiter, Ticket, track

#: Socket timeouts: a Redis that hangs must not hold requests up for long.
SOCKET_TIMEOUT_S = 0.5

_ACQUIRE = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
else
  now = tonumber(ARGV[1])
end
local window = 60000
local slot_ttl = tonumber(ARGV[3])
local allowed = true
local writes = {}
local out = {}
local function fill(key, limit, cost)
  local v = redis.call('GET', key)
  local tat = v and tonumber(v) or now
  if tat < now then tat = now end
  local after = tat + cost * window / limit
  if after - now > window + 0.001 then allowed = false end
  writes[#writes + 1] = {key, after}
  return tat - now, after - now
end
for i = 0, #KEYS / 3 - 1 do
  local rpm = tonumber(ARGV[4 + i * 4])
  local tpm = tonumber(ARGV[5 + i * 4])
  local conc = tonumber(ARGV[6 + i * 4])
  local cost = tonumber(ARGV[7 + i * 4])
  local rb, ra, tb, ta, active = -1, -1, -1, -1, -1
  if rpm > 0 then rb, ra = fill(KEYS[1 + i * 3], rpm, 1) end
  if tpm > 0 then tb, ta = fill(KEYS[2 + i * 3], tpm, cost) end
  if conc > 0 then
    local key = KEYS[3 + i * 3]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    active = redis.call('ZCARD', key)
    if active >= conc then allowed = false end
  end
  for _, x in ipairs({rb, ra, tb, ta, active}) do out[#out + 1] = tostring(x) end
end
if allowed then
  for _, w in ipairs(writes) do
    redis.call('SET', w[1], tostring(w[2]), 'PX', math.ceil(w[2] - now) + 1000)
  end
  for i = 0, #KEYS / 3 - 1 do
    if tonumber(ARGV[6 + i * 4]) > 0 then
      redis.call('ZADD', KEYS[3 + i * 3], now + slot_ttl, ARGV[2])
      redis.call('PEXPIRE', KEYS[3 + i * 3], slot_ttl)
    end
  end
end
table.insert(out, 1, allowed and '1' or '0')
return out
"""

_SETTLE = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
else
  now = tonumber(ARGV[1])
end
for i = 0, #KEYS / 2 - 1 do
  local tpm = tonumber(ARGV[3 + i * 3])
  local delta = tonumber(ARGV[4 + i * 3])
  if tpm > 0 and delta ~= 0 then
    local key = KEYS[1 + i * 2]
    local v = redis.call('GET', key)
    local tat = v and tonumber(v) or now
    if tat < now then tat = now end
    tat = tat + delta * 60000 / tpm
    if tat > now then
      redis.call('SET', key, tostring(tat), 'PX', math.ceil(tat - now) + 1000)
    else
      redis.call('DEL', key)
    end
  end
  if tonumber(ARGV[5 + i * 3]) > 0 then redis.call('ZREM', KEYS[2 + i * 2], ARGV[2]) end
end
return 1
"""


def connect(url: str) -> aioredis.Redis:
    """A client for ``url`` that fails fast: short timeouts and no retries (the failover
    limiter decides what a failure means)."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )
    return client


class RedisLimiter(RateLimiter):
    """Counters in Redis. ``clock`` (seconds) replaces Redis's clock in tests."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "llmc:",
        slot_ttl_s: float = 900.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.client = client
        self._prefix = prefix + "rl:"
        self._slot_ttl_ms = str(int(slot_ttl_s * 1000))
        self._clock = clock
        self._acquire_script = client.register_script(_ACQUIRE)
        self._settle_script = client.register_script(_SETTLE)

    def _now(self) -> str:
        return "" if self._clock is None else repr(self._clock() * 1000)

    def _key(self, bucket: str, dimension: str) -> str:
        group, _, rest = bucket.partition(":")
        return f"{self._prefix}{{{group}}}:{rest}:{dimension}"

    async def acquire(self, policy: Policy, estimated_tokens: int) -> Decision:
        """Safe to cancel: the script runs to its end regardless, and a request admitted
        after its caller went away is settled at once (its slot freed, tokens refunded)."""
        task = asyncio.ensure_future(self._acquire(policy, estimated_tokens))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._undo)
            track(task)
            raise

    def _undo(self, task: asyncio.Future[Decision]) -> None:
        if not task.cancelled() and task.exception() is None:
            ticket = task.result().ticket
            if ticket is not None:
                self.settle_soon(ticket, 0)

    async def _acquire(self, policy: Policy, estimated_tokens: int) -> Decision:
        keys: list[str] = []
        args: list[str] = [self._now(), "", self._slot_ttl_ms]
        for tier in policy:
            limits = tier.limits
            keys += [self._key(tier.bucket, d) for d in "rtc"]
            tpm = limits.tpm or 0
            args += [
                str(limits.rpm or 0),
                str(tpm),
                str(limits.max_concurrent or 0),
                str(gcra.token_cost(estimated_tokens, tpm) if tpm else 0),
            ]
        ticket = Ticket(policy, estimated_tokens, self, uuid.uuid4().hex)
        args[1] = ticket.id
        raw = await self._acquire_script(keys=keys, args=args)
        values = [float(v) for v in raw]
        readings = []
        for i, tier in enumerate(policy):
            rb, ra, tb, ta, active = values[1 + i * 5 : 6 + i * 5]
            readings.append(
                gcra.Reading(
                    tier,
                    req_before=_seconds(rb),
                    req_after=_seconds(ra),
                    tok_before=_seconds(tb),
                    tok_after=_seconds(ta),
                    active=None if active < 0 else int(active),
                )
            )
        decision = gcra.judge(policy, readings, values[0] == 1)
        if decision.allowed:
            decision.ticket = ticket
        return decision

    async def settle(self, ticket: Ticket, actual_tokens: int | None) -> None:
        if ticket.settled:
            return
        ticket.settled = True
        keys: list[str] = []
        args: list[str] = [self._now(), ticket.id]
        for tier in ticket.policy:
            limits = tier.limits
            keys += [self._key(tier.bucket, "t"), self._key(tier.bucket, "c")]
            tpm = limits.tpm or 0
            delta = 0
            if tpm and actual_tokens is not None:
                delta = actual_tokens - gcra.token_cost(ticket.charged_tokens, tpm)
            args += [str(tpm), str(delta), str(limits.max_concurrent or 0)]
        await self._settle_script(keys=keys, args=args)

    async def ping(self) -> None:
        """Raise unless Redis answers (the failover limiter's probe)."""
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


def _seconds(ms: float) -> float | None:
    return None if ms < 0 else ms / 1000
