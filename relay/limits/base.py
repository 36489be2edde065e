"""The rate-limiter interface: what a request asks for and what it is told.

A request is counted against up to three *tiers* (its key, its user within the group,
its group), each with requests per minute, tokens per minute and concurrent requests;
:class:`Policy` lists the tiers that have any limit. :meth:`RateLimiter.acquire` checks
every tier at once and charges all of them or none; it returns a :class:`Decision`
carrying the header values of the most constraining tier and, when allowed, a
:class:`Ticket`. When the answer is over, :meth:`RateLimiter.settle` charges the real
token count in place of the up-front estimate and frees the concurrency slot.

Both windows are one minute and work like GCRA (a leaky bucket): a limit of 60 rpm lets
a burst of 60 through, then one more each second. Nothing here imports a web framework.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: The window of every limit, in seconds ("per minute").
WINDOW_S = 60.0

TIER_KINDS = ("key", "user", "group")


@dataclass(frozen=True, slots=True)
class Limits:
    """One tier's limits; ``None`` means unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None

    def __bool__(self) -> bool:
        return self.rpm is not None or self.tpm is not None or self.max_concurrent is not None


@dataclass(frozen=True, slots=True)
class Tier:
    """One counter a request is charged to: ``kind`` is key, user or group; ``subject``
    the key id, user id or group id. Users are counted per group. ``bucket`` (the
    counter's name, unique per group, kind and subject) is derived once, here."""

    kind: str
    subject: str
    group_id: str
    limits: Limits
    bucket: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bucket", f"{self.group_id}:{self.kind}:{self.subject}")

    def describe(self, key_name: str = "") -> str:
        """Words for error messages (no ids: they mean nothing to a consumer)."""
        if self.kind == "key":
            return f"your API key '{key_name}'" if key_name else "your API key"
        if self.kind == "user":
            return "your account (all your keys in this group)"
        return "your group (all its members together)"


#: The tiers of one request that have a limit, key first.
Policy = tuple[Tier, ...]


@dataclass(frozen=True, slots=True)
class Quota:
    """Header values of one dimension (requests or tokens) of the most constraining tier:
    the limit, what is left now, and seconds until the window is whole again."""

    limit: int
    remaining: int
    reset_s: float


@dataclass(slots=True)
class Ticket:
    """An admitted request's charges, to be settled exactly once when it ends."""

    policy: Policy
    charged_tokens: int
    owner: RateLimiter
    id: str = ""  # set by limiters that need one (Redis: the concurrency slot's name)
    settled: bool = False


@dataclass(slots=True)
class Decision:
    """The answer of :meth:`RateLimiter.acquire`.

    Allowed: ``ticket`` is set (``None`` when the policy was empty). Denied: ``dimension``
    says what ran out ("requests", "tokens" or "concurrency"), ``tier`` which tier, and
    ``retry_after_s`` when to try again. ``requests``/``tokens`` feed the
    ``x-ratelimit-*`` headers (``None`` when no tier limits that dimension).
    """

    allowed: bool
    ticket: Ticket | None = None
    requests: Quota | None = None
    tokens: Quota | None = None
    retry_after_s: float = 0.0
    dimension: str = ""
    tier: Tier | None = None
    limit: int = 0


ALLOW_ALL = Decision(True)

#: Background work the limiters started (settles, orphaned acquires); see ``drain``.
_pending: set[asyncio.Future[Any]] = set()


def track(work: asyncio.Future[Any]) -> None:
    """Keep a reference to background limiter work until it is done (``drain`` waits)."""
    _pending.add(work)
    work.add_done_callback(_pending.discard)


class RateLimiter(abc.ABC):
    """Counts requests and tokens per tier. One per relay process; shared by all requests.

    Implementations must be atomic per call (all tiers charged or none), must not hold a
    lock across an await, and must be safe to cancel (a cancelled ``acquire`` charged
    either everything or nothing).
    """

    @abc.abstractmethod
    async def acquire(self, policy: Policy, estimated_tokens: int) -> Decision:
        """Admit one request costing ``estimated_tokens`` against every tier of ``policy``.

        The token charge is capped at each tier's tpm, so one large request is never
        refused forever; :meth:`settle` charges the rest afterwards.
        """

    @abc.abstractmethod
    async def settle(self, ticket: Ticket, actual_tokens: int | None) -> None:
        """End an admitted request: replace the estimate with ``actual_tokens`` (``None``
        keeps the estimate) and free its concurrency slots. A second call is a no-op."""

    def settle_soon(self, ticket: Ticket, actual_tokens: int | None) -> None:
        """:meth:`settle` from synchronous code: runs it in a task of its own (errors are
        logged, never raised). In-process limiters override this to settle at once."""
        track(asyncio.get_running_loop().create_task(self._settle_logged(ticket, actual_tokens)))

    async def _settle_logged(self, ticket: Ticket, actual_tokens: int | None) -> None:
        try:
            await self.settle(ticket, actual_tokens)
        except Exception:
            log.warning("could not settle a rate-limit ticket", exc_info=True)

    async def drain(self) -> None:
        """Wait for settles started by :meth:`settle_soon` (before :meth:`close`, and for
        tests). Safe to cancel."""
        while _pending:
            await asyncio.gather(*list(_pending), return_exceptions=True)

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections (the limiter is unusable afterwards)."""
