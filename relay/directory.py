"""Node presence and request routing, behind one small interface.

:class:`NodeDirectory` answers "which nodes of this group are online and what do they
serve" and "open a stream to that node". :class:`LocalDirectory` is the in-process version
for a single relay process: the tunnels it knows are the ones this process holds. A
Redis-backed directory (presence in a hash with expiry, requests routed to the relay that
holds the tunnel over pub/sub) can replace it without touching the API handlers.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

from relay.tunnel.session import AgentSession
from relay.tunnel.stream import TunnelStream


class NodeDirectory(abc.ABC):
    """Where the relay's handlers learn about nodes. All methods are safe to cancel."""

    @abc.abstractmethod
    def attach(self, session: AgentSession) -> AgentSession | None:
        """Register a live tunnel; return the session it replaces (same node), if any."""

    @abc.abstractmethod
    def detach(self, session: AgentSession) -> None:
        """Forget a tunnel that closed (a no-op if a newer session replaced it)."""

    @abc.abstractmethod
    def sessions(self, group_id: str | None = None) -> list[AgentSession]:
        """Online nodes, of one group or all."""

    @abc.abstractmethod
    def get(self, node_id: str) -> AgentSession | None: ...

    def group_models(self, group_id: str) -> dict[str, bool]:
        """Model id -> loaded anywhere, over the group's available nodes."""
        models: dict[str, bool] = {}
        for session in self.sessions(group_id):
            if session.available:
                for model in session.models.values():
                    models[model.id] = models.get(model.id, False) or model.loaded
        return models

    async def open_stream(
        self, session: AgentSession, method: str, route: str, body: bytes, deadline_s: float
    ) -> TunnelStream:
        return await session.open_stream(method, route, body, deadline_s)


class LocalDirectory(NodeDirectory):
    """The in-process directory: the tunnels this relay process holds."""

    def __init__(self) -> None:
        self._by_node: dict[str, AgentSession] = {}

    def attach(self, session: AgentSession) -> AgentSession | None:
        previous = self._by_node.get(session.node_id)
        self._by_node[session.node_id] = session
        return previous

    def detach(self, session: AgentSession) -> None:
        if self._by_node.get(session.node_id) is session:
            del self._by_node[session.node_id]

    def sessions(self, group_id: str | None = None) -> list[AgentSession]:
        values: Iterable[AgentSession] = self._by_node.values()
        if group_id is None:
            return list(values)
        return [s for s in values if s.group_id == group_id]

    def get(self, node_id: str) -> AgentSession | None:
        return self._by_node.get(node_id)
