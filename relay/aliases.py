"""Group-level model aliases, cached: one public name for backend-specific names.

``llama3.1-8b`` may be ``llama3.1:8b`` on an Ollama rig and ``meta-llama-3.1-8b-instruct``
on an LM Studio one; the scheduler considers every node serving any target and the
request is sent with the chosen node's own name. Read on every request, so the group's
aliases are cached for ``ttl_s``; an alias changed through this relay is dropped from the
cache at once (:meth:`AliasCache.forget`), one changed with the CLI within ``ttl_s``.
"""

from __future__ import annotations

import time

from storage import Store


class AliasCache:
    """alias -> targets per group, refreshed from the store when stale."""

    def __init__(self, store: Store, *, ttl_s: float = 5.0) -> None:
        self._store = store
        self._ttl = ttl_s
        self._groups: dict[str, tuple[float, dict[str, tuple[str, ...]]]] = {}

    async def aliases(self, group_id: str) -> dict[str, tuple[str, ...]]:
        """All aliases of a group. Safe to cancel (it only reads)."""
        now = time.monotonic()
        cached = self._groups.get(group_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = {a.alias: tuple(a.targets) for a in await self._store.list_aliases(group_id)}
        if self._ttl > 0:
            self._groups[group_id] = (now + self._ttl, found)
        return found

    async def targets(self, group_id: str, model: str) -> tuple[str, ...]:
        """The backend names ``model`` stands for in the group (empty if not an alias)."""
        return (await self.aliases(group_id)).get(model, ())

    def forget(self, group_id: str | None = None) -> None:
        if group_id is None:
            self._groups.clear()
        else:
            self._groups.pop(group_id, None)
