"""The arithmetic both limiters share: GCRA per (tier, dimension) and judging a request.

GCRA keeps one number per counter, the *theoretical arrival time* ``tat``: the moment the
counter would be empty again. With a limit of ``n`` per minute each unit costs
``60 / n`` seconds; a request costing ``c`` units fits when
``max(tat, now) + c * 60 / n - now <= 60`` (the *fill*, in seconds of window in use).
The Redis limiter runs the same rules in Lua (see :mod:`relay.limits.redis_limiter`)
and hands back its readings, which :func:`judge` turns into a :class:`Decision` here.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay.limits.base import WINDOW_S, Decision, Policy, Quota, Tier

#: Slack for float rounding when comparing a fill with the window.
EPS = 1e-6

#: Retry-After for a request refused for concurrency (when a slot frees is unknown).
CONCURRENCY_RETRY_S = 1.0


def unit_s(limit: int) -> float:
    """Seconds of window one unit costs under ``limit`` per minute."""
    return WINDOW_S / limit


def charge(tat: float, now: float, limit: int, cost: float) -> float:
    """The counter's new ``tat`` after charging ``cost`` units (whether or not it fits)."""
    return max(tat, now) + cost * unit_s(limit)


def settle_tat(tat: float, now: float, limit: int, delta: float) -> float:
    """The counter's ``tat`` after adding ``delta`` units (negative: a refund)."""
    return max(max(tat, now) + delta * unit_s(limit), now)


def fits(fill: float) -> bool:
    return fill <= WINDOW_S + EPS


def token_cost(estimated_tokens: int, tpm: int) -> int:
    """The up-front token charge: the estimate, capped at the limit so that a request
    larger than the whole budget still gets through when the budget is untouched."""
    return max(0, min(estimated_tokens, tpm))


def quota(limit: int, fill: float) -> Quota:
    """Header values for a counter with ``fill`` seconds of its window in use."""
    fill = max(fill, 0.0)
    remaining = int((WINDOW_S - fill) / unit_s(limit) + EPS)
    return Quota(limit, max(0, remaining), fill)


@dataclass(slots=True)
class Reading:
    """One tier as seen by one request: fills (seconds) before and after charging it,
    ``None`` where the tier has no such limit, and the concurrency slots in use."""

    tier: Tier
    req_before: float | None = None
    req_after: float | None = None
    tok_before: float | None = None
    tok_after: float | None = None
    active: int | None = None

    def refusal(self) -> tuple[str, float, int] | None:
        """(dimension, retry-after seconds, limit) of the worst thing over the limit."""
        worst: tuple[str, float, int] | None = None
        limits = self.tier.limits
        for dimension, after, limit in (
            ("requests", self.req_after, limits.rpm),
            ("tokens", self.tok_after, limits.tpm),
        ):
            if after is not None and limit is not None and not fits(after):
                wait = after - WINDOW_S
                if worst is None or wait > worst[1]:
                    worst = (dimension, wait, limit)
        cap = limits.max_concurrent
        if worst is None and self.active is not None and cap is not None and self.active >= cap:
            worst = ("concurrency", CONCURRENCY_RETRY_S, cap)
        return worst


def _tightest(quotas: list[Quota]) -> Quota | None:
    return min(quotas, key=lambda q: (q.remaining, q.limit), default=None)


def judge(policy: Policy, readings: list[Reading], allowed: bool) -> Decision:
    """The decision for readings of every tier of ``policy`` (``allowed`` as the limiter
    found it). Headers show the most constraining tier: after the charge when allowed,
    as things stand when refused."""
    requests: list[Quota] = []
    tokens: list[Quota] = []
    for r in readings:
        limits = r.tier.limits
        req = r.req_after if allowed else r.req_before
        tok = r.tok_after if allowed else r.tok_before
        if limits.rpm is not None and req is not None:
            requests.append(quota(limits.rpm, req))
        if limits.tpm is not None and tok is not None:
            tokens.append(quota(limits.tpm, tok))
    decision = Decision(allowed, requests=_tightest(requests), tokens=_tightest(tokens))
    if allowed:
        return decision
    worst: tuple[str, float, int, Tier] | None = None
    for r in readings:
        refusal = r.refusal()
        if refusal is not None and (worst is None or refusal[1] > worst[1]):
            worst = (*refusal, r.tier)
    if worst is None:  # refused by a counter that moved since (Redis): try again soon
        worst = ("requests", CONCURRENCY_RETRY_S, 0, readings[0].tier)
    decision.dimension, decision.retry_after_s, decision.limit, decision.tier = worst
    return decision
