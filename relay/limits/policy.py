"""Which limits apply to a request: stored rows, cached per group, resolved per principal.

The hot path must not query the database, so a group's rows are loaded once and kept for
``ttl_s`` seconds, then reloaded in the background while the old rows keep serving;
concurrent requests of a group never read before share one load.
A change made through the relay calls :meth:`LimitBook.invalidate` (effective at once);
one made with the CLI takes effect within ``ttl_s``. If the database cannot be read, the
last rows known keep applying (or none, before the first load), and the failure is
logged: limits fail open, authentication does not pass through here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from relay.auth import Principal
from relay.limits.base import Limits, Policy, Tier
from storage import LimitScope, RateLimit, Store

log = logging.getLogger(__name__)

NO_LIMITS = Limits()
MEMO_SIZE = 10_000


class GroupLimits:
    """One group's rows, indexed for resolving a principal in O(1). Immutable once built;
    the policy of each (key, user) is worked out once and remembered."""

    __slots__ = ("_memo", "default", "group", "keys", "users")

    def __init__(
        self, group: Limits, default: Limits, users: dict[str, Limits], keys: dict[str, Limits]
    ) -> None:
        self.group = group
        self.default = default
        self.users = users
        self.keys = keys
        self._memo: dict[tuple[str, str], Policy] = {}

    @classmethod
    def from_rows(cls, rows: list[RateLimit]) -> GroupLimits:
        group, default = NO_LIMITS, NO_LIMITS
        users: dict[str, Limits] = {}
        keys: dict[str, Limits] = {}
        for row in rows:
            limits = Limits(row.rpm, row.tpm, row.max_concurrent)
            if row.scope is LimitScope.GROUP:
                group = limits
            elif row.scope is LimitScope.DEFAULT:
                default = limits
            elif row.scope is LimitScope.USER:
                users[row.subject_id] = limits
            else:
                keys[row.subject_id] = limits
        return cls(group, default, users, keys)

    def policy(self, principal: Principal) -> Policy:
        """The tiers of ``principal`` that have a limit (key, user, group order)."""
        memo_key = (principal.key_id, principal.user_id)
        found = self._memo.get(memo_key)
        if found is not None:
            return found
        tiers: list[Tier] = []
        for kind, subject, own in (
            ("key", principal.key_id, self.keys.get(principal.key_id, NO_LIMITS)),
            ("user", principal.user_id, self.users.get(principal.user_id, NO_LIMITS)),
        ):
            limits = _with_default(own, self.default)
            if limits:
                tiers.append(Tier(kind, subject, principal.group_id, limits))
        if self.group:
            tiers.append(Tier("group", principal.group_id, principal.group_id, self.group))
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        policy = self._memo[memo_key] = tuple(tiers)
        return policy


def _with_default(own: Limits, default: Limits) -> Limits:
    """``own``'s values, each unset one taken from the group default."""
    if not default:
        return own
    return Limits(
        own.rpm if own.rpm is not None else default.rpm,
        own.tpm if own.tpm is not None else default.tpm,
        own.max_concurrent if own.max_concurrent is not None else default.max_concurrent,
    )


EMPTY = GroupLimits(NO_LIMITS, NO_LIMITS, {}, {})


class LimitBook:
    """The cache of stored limits. One per relay process."""

    def __init__(
        self, store: Store, *, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._clock = clock
        self._groups: dict[str, tuple[float, GroupLimits]] = {}
        self._loading: dict[str, asyncio.Future[GroupLimits]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def policy(self, principal: Principal) -> Policy:
        """The tiers that limit ``principal``'s requests. Safe to cancel."""
        return (await self.group(principal.group_id)).policy(principal)

    async def group(self, group_id: str) -> GroupLimits:
        """A group's limits. Fresh from the cache: no wait. Expired: the rows last read,
        while a reload runs in the background (no request waits on the database once a
        group was read). Never read, or invalidated: waits for the one load in progress.
        Safe to cancel."""
        hit = self._groups.get(group_id)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        pending = self._loading.get(group_id)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._loading[group_id] = pending
            task = asyncio.get_running_loop().create_task(self._load(group_id, pending, hit))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if hit is not None:
            return hit[1]
        return await asyncio.shield(pending)

    async def wait_loaded(self) -> None:
        """Wait for the loads in progress (tests, and an admin "apply now"). Safe to cancel."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _load(
        self,
        group_id: str,
        done: asyncio.Future[GroupLimits],
        stale: tuple[float, GroupLimits] | None,
    ) -> None:
        try:
            limits = GroupLimits.from_rows(await self._store.list_rate_limits(group_id))
        except asyncio.CancelledError:
            done.cancel()
            if self._loading.get(group_id) is done:
                del self._loading[group_id]
            raise
        except Exception:
            log.warning("cannot read the rate limits of a group; keeping the last known")
            limits = stale[1] if stale is not None else EMPTY
        if self._loading.get(group_id) is done:  # not invalidated meanwhile
            del self._loading[group_id]
            if self._ttl > 0:
                self._groups[group_id] = (self._clock() + self._ttl, limits)
        done.set_result(limits)

    def invalidate(self, group_id: str | None = None) -> None:
        """Forget cached limits (one group, or all) so the next request reads the store."""
        if group_id is None:
            self._groups.clear()
            self._loading.clear()
        else:
            self._groups.pop(group_id, None)
            self._loading.pop(group_id, None)
