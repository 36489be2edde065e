"""Per-request accounting: admit under the rate limits, and close the books at the end.

:class:`Accounting` bundles the relay's services (cached limits, the limiter, the usage
writer); :class:`Meter` is one request's view of them. The HTTP handler calls
:meth:`Meter.admit` before routing and :meth:`Meter.finish` exactly once when the request
ends (a second call is ignored), which closes the :class:`RequestLog`, settles the
limiter with the real token count, queues the usage record and publishes the
``"request"`` event. No web framework here, and no database access per request.

When the backend reported no counts, tokens are estimated cheaply (no JSON parsing):
about four bytes of request body per prompt token, one token per streamed SSE event or
four bytes of a non-streamed answer per completion token; the record is marked
``estimated``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from relay.events import EventHub
from relay.limits import ALLOW_ALL, Decision, LimitBook, RateLimiter, Ticket
from relay.limits.headers import rate_limit_headers
from relay.requests import RequestLog
from relay.usage import UsageWriter, usage_record

BYTES_PER_TOKEN = 4
#: SSE events of a stream that carry no completion token (role, finish, [DONE]).
NON_TOKEN_EVENTS = 3


def estimate_prompt_tokens(body_bytes: int) -> int:
    return math.ceil(body_bytes / BYTES_PER_TOKEN)


def requested_completion_tokens(parsed: dict[str, Any]) -> int:
    """``max_completion_tokens`` or ``max_tokens`` of a request body, if it sets one."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = parsed.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


@dataclass
class Accounting:
    """The relay's accounting services. One per process; built at start-up."""

    limits: LimitBook
    limiter: RateLimiter
    usage: UsageWriter
    events: EventHub
    # Told of every finished request (the scheduler's measurements feed on it).
    on_finish: Callable[[RequestLog], None] | None = None

    async def close(self) -> None:
        """Write the usage still buffered, let pending settles finish, then release the
        limiter's connections."""
        try:
            await self.usage.close()
        finally:
            await self.limiter.drain()
            await self.limiter.close()


class Meter:
    """One request's accounting. Not thread-safe; lives on the event loop."""

    __slots__ = ("_accounting", "_body_bytes", "_estimate", "_ticket", "entry", "headers")

    def __init__(
        self, accounting: Accounting, entry: RequestLog, body_bytes: int, max_tokens: int = 0
    ) -> None:
        self._accounting = accounting
        self.entry = entry
        self._body_bytes = body_bytes
        self._estimate = estimate_prompt_tokens(body_bytes) + max_tokens
        self._ticket: Ticket | None = None
        #: The ``x-ratelimit-*`` headers every response of this request carries.
        self.headers: dict[str, str] = {}

    async def admit(self) -> Decision:
        """Check and charge the rate limits. Safe to cancel (nothing is charged then,
        or the charge is settled when :meth:`finish` runs for the cancelled request)."""
        policy = await self._accounting.limits.policy(self.entry.principal)
        if not policy:
            return ALLOW_ALL
        decision = await self._accounting.limiter.acquire(policy, self._estimate)
        self._ticket = decision.ticket
        self.headers = rate_limit_headers(decision)
        return decision

    def finish(
        self,
        status: int,
        error_code: str | None,
        usage: tuple[int | None, int | None] | None = None,
        *,
        events_seen: int = 0,
        answer_bytes: int = 0,
    ) -> None:
        """Close the books once. ``usage`` is the backend's (prompt, completion) counts
        from the agent's End message, if any; without them, tokens are estimated from
        ``events_seen`` (a stream that started, even if it broke off later) or
        ``answer_bytes`` (a successful non-streamed answer)."""
        entry = self.entry
        if entry.finished:
            return
        if usage is not None and (usage[0] is not None or usage[1] is not None):
            entry.usage(usage[0] or 0, usage[1] or 0)
        elif entry.node_id is not None and (events_seen or (answer_bytes and status < 400)):
            completion = (
                max(0, events_seen - NON_TOKEN_EVENTS)
                if events_seen
                else math.ceil(answer_bytes / BYTES_PER_TOKEN)
            )
            entry.usage(estimate_prompt_tokens(self._body_bytes), completion, estimated=True)
        entry.close(status, error_code)
        accounting = self._accounting
        if self._ticket is not None:
            tokens = (entry.prompt_tokens or 0) + (entry.completion_tokens or 0)
            accounting.limiter.settle_soon(self._ticket, tokens)
            self._ticket = None
        accounting.usage.add(usage_record(entry))
        accounting.events.publish("request", entry.to_event())
        if accounting.on_finish is not None:
            accounting.on_finish(entry)
