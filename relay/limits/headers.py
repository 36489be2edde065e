"""How a :class:`~relay.limits.base.Decision` is told to clients, in OpenAI's words.

``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests``,
``x-ratelimit-reset-requests`` and the same three for tokens go on every response of a
limited request (reset times as OpenAI writes them: ``"1s"``, ``"6m0s"``, ``"250ms"``).
A refusal adds ``Retry-After`` (whole seconds, at least 1) and ``retry-after-ms``, which
the ``openai`` SDK prefers when it retries. Plain functions, no web framework.
"""

from __future__ import annotations

import math

from relay.limits.base import Decision, Quota


def format_duration(seconds: float) -> str:
    """A duration the way OpenAI's headers write it: ``"59ms"``, ``"1.5s"``, ``"6m0s"``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, math.ceil(seconds * 1000))}ms"
    minutes, rest = divmod(round(seconds, 3), 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    if minutes >= 1:
        hours, minutes = divmod(int(minutes), 60)
        text = f"{minutes}m{text}"
        if hours:
            text = f"{hours}h{text}"
    return text


def _add(headers: dict[str, str], dimension: str, quota: Quota | None) -> None:
    if quota is not None:
        headers[f"x-ratelimit-limit-{dimension}"] = str(quota.limit)
        headers[f"x-ratelimit-remaining-{dimension}"] = str(quota.remaining)
        headers[f"x-ratelimit-reset-{dimension}"] = format_duration(quota.reset_s)


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """The headers of a response to a request that ``decision`` admitted or refused
    (empty when no tier limits it)."""
    headers: dict[str, str] = {}
    _add(headers, "requests", decision.requests)
    _add(headers, "tokens", decision.tokens)
    if not decision.allowed:
        wait = max(decision.retry_after_s, 0.001)
        headers["retry-after"] = str(max(1, math.ceil(wait)))
        headers["retry-after-ms"] = str(math.ceil(wait * 1000))
    return headers


def refusal_message(decision: Decision, key_name: str = "") -> str:
    """The message of a 429 (names no ids; safe to show the consumer)."""
    who = decision.tier.describe(key_name) if decision.tier is not None else "your key"
    wait = format_duration(max(decision.retry_after_s, 0.001))
    if decision.dimension == "concurrency":
        return (
            f"Too many concurrent requests on {who}: limit {decision.limit}."
            f" Please try again in {wait}."
        )
    per = "tokens per minute (TPM)" if decision.dimension == "tokens" else "requests per minute"
    return (
        f"Rate limit reached for {per} on {who}: limit {decision.limit}."
        f" Please try again in {wait}."
    )
