"""One admin connection's live view: a snapshot, then coalesced updates on a timer.

:meth:`LiveView.snapshot` describes everything the caller may see; each later
:meth:`LiveView.update` (called every ``admin_update_interval_s``) says only what changed
since: nodes whose state differs from what was last sent, nodes that left the view, the
requests finished meanwhile (batched from an event subscription, never one message per
request), and groups or keys when a change was made. A busy relay therefore costs a
console at most one message per interval.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from relay.admin.auth import Admin, reload
from relay.admin.catalog import Catalog, load_catalog
from relay.admin.runtime import HISTORY_INTERVAL_S, AdminRuntime
from relay.admin.views import node_view, request_view
from relay.events import Subscription
from relay.state import RelayState

CATALOG_REFRESH_S = 10.0  # re-read the store this often anyway (changes made by the CLI)
UNKNOWN_NODE_REFRESH_S = 2.0
MAX_REQUESTS_PER_MESSAGE = 200


def queue_lengths(state: RelayState, group_ids: set[str] | None) -> dict[str, dict[str, int]]:
    """Waiting requests as ``{group id: {model: count}}``, from the scheduler's queues
    (``state.dispatcher.queues.lengths()``); empty when the relay has none."""
    dispatcher = getattr(state, "dispatcher", None)
    queues = getattr(dispatcher, "queues", None) or getattr(state, "queues", None)
    lengths = getattr(queues, "lengths", None)
    if lengths is None:
        return {}
    try:
        raw = lengths()
    except Exception:  # a live view must not die of a scheduler bug
        return {}
    return {
        str(g): {str(m): int(n) for m, n in models.items()}
        for g, models in dict(raw).items()
        if group_ids is None or g in group_ids
    }


class LiveView:
    """The state of one admin socket. Not shared; its methods are safe to cancel."""

    def __init__(self, state: RelayState, runtime: AdminRuntime, admin: Admin) -> None:
        self.state = state
        self.runtime = runtime
        self.admin = admin
        self._subscription: Subscription | None = None
        self._catalog = Catalog()
        self._catalog_at = 0.0
        self._unknown_at = 0.0
        self._sent_nodes: dict[str, dict[str, Any]] = {}
        self._sent: dict[str, Any] = {}

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()

    async def snapshot(self) -> dict[str, Any]:
        """Everything the caller may see now (the first message on the socket)."""
        await self._refresh_catalog()
        # Subscribe and copy the recent feed with no await in between: no request is
        # missed and none is reported twice.
        self.close()
        self._subscription = self.state.events.subscribe(maxlen=5_000)
        recent = [request_view(e) for e in self.state.events.recent_requests if self._sees(e)]
        nodes = self._nodes()
        self._sent_nodes = {n["id"]: n for n in nodes}
        for name, value in self._lists().items():
            self._sent[name] = value
        snapshot_nodes = [{**n, "history": self.runtime.history.of(n["id"])} for n in nodes]
        return {
            "type": "snapshot",
            "time": _now(),
            "interval_s": self.state.settings.admin_update_interval_s,
            "history_interval_s": HISTORY_INTERVAL_S,
            "nodes": snapshot_nodes,
            "requests": recent[-MAX_REQUESTS_PER_MESSAGE:],
            **self._lists(),
        }

    async def update(self) -> dict[str, Any] | None:
        """What changed since the last message, or None when nothing did.

        Raises :class:`~relay.admin.errors.AdminError` when the caller's token expired or
        their rights were withdrawn (the socket then closes).
        """
        events = self._subscription.drain() if self._subscription is not None else []
        dropped = self._subscription.dropped if self._subscription is not None else 0
        if self._subscription is not None:
            self._subscription.dropped = 0
        now = time.monotonic()
        stale = now - self._catalog_at >= CATALOG_REFRESH_S
        if stale or any(kind == "admin" for kind, _ in events) or self._unknown_nodes(now):
            await self._refresh_catalog()
        elif self.admin.expired:
            self.admin = await reload(self.state, self.admin)  # raises: the token expired
        message: dict[str, Any] = {"type": "update", "time": _now()}
        nodes = {n["id"]: n for n in self._nodes()}
        changed = [n for node_id, n in nodes.items() if self._sent_nodes.get(node_id) != n]
        removed = sorted(set(self._sent_nodes) - set(nodes))
        self._sent_nodes = nodes
        if changed:
            message["nodes"] = changed
        if removed:
            message["removed_nodes"] = removed
        requests = [
            request_view(payload)
            for kind, payload in events
            if kind == "request" and self._sees(payload)
        ]
        if requests:
            message["requests"] = requests[-MAX_REQUESTS_PER_MESSAGE:]
        skipped = max(0, len(requests) - MAX_REQUESTS_PER_MESSAGE) + dropped
        if skipped:
            message["requests_dropped"] = skipped
        for name, value in self._lists().items():
            if self._sent.get(name) != value:
                self._sent[name] = value
                message[name] = value
        return message if len(message) > 2 else None

    # -- internals -------------------------------------------------------------------

    async def _refresh_catalog(self) -> None:
        self.admin = await reload(self.state, self.admin)
        self._catalog = await load_catalog(self.state, self.admin)
        self._catalog_at = time.monotonic()

    def _sees(self, event: dict[str, Any]) -> bool:
        return self.admin.manages(event.get("group_id"))

    def _unknown_nodes(self, now: float) -> bool:
        """A visible live node missing from the catalog (registered since): re-read soon."""
        if now - self._unknown_at < UNKNOWN_NODE_REFRESH_S:
            return False
        known = {n.id for n in self._catalog.nodes}
        if any(
            s.node_id not in known and self.admin.manages(s.group_id)
            for s in self.state.directory.sessions()
        ):
            self._unknown_at = now
            return True
        return False

    def _nodes(self) -> list[dict[str, Any]]:
        names = self._catalog.group_names
        visible = set(names)
        directory = self.state.directory
        stored = {n.id: n for n in self._catalog.nodes}
        live = {s.node_id: s for s in directory.sessions() if s.group_id in visible}
        queues = queue_lengths(self.state, visible)
        views = [
            node_view(
                node_id,
                stored.get(node_id),
                live.get(node_id),
                group_names=names,
                runtime=self.runtime,
                queues=queues,
            )
            for node_id in [*stored, *(i for i in live if i not in stored)]
        ]
        views.sort(key=lambda n: (n["group"], n["name"], n["id"]))
        return views

    def _lists(self) -> dict[str, Any]:
        visible = None if self.admin.is_operator else set(self.admin.roles)
        return {
            "me": self.admin.describe(),
            "groups": self._catalog.groups_view(),
            "keys": self._catalog.keys_view(),
            "aliases": self._catalog.aliases_view(),
            "queues": queue_lengths(self.state, visible),
        }


def _now() -> str:
    return datetime.now(UTC).isoformat()
