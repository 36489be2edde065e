"""The relay's background upkeep: dead-tunnel detection, revocations, batched writes.

One task per process wakes a few times per heartbeat timeout. Doing this on a timer, not
per frame, keeps the tunnel's per-chunk path free of timer churn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from relay.state import RelayState
from relay.tunnel.session import (
    CLOSE_HEARTBEAT_TIMEOUT,
    CLOSE_RELAY_SHUTDOWN,
    CLOSE_REVOKED,
    AgentSession,
)

log = logging.getLogger(__name__)


async def expire_silent_nodes(state: RelayState) -> list[AgentSession]:
    """Close tunnels that sent nothing within the heartbeat timeout (a hung or stopped
    agent whose TCP connection is still open). Their streams fail at once."""
    deadline = time.monotonic() - state.settings.heartbeat_timeout_s
    expired = [s for s in state.directory.sessions() if s.last_seen < deadline]
    for session in expired:
        log.warning("node %s missed its heartbeats; marking it offline", session.node_name)
        state.directory.detach(session)
        session.fail_all("The node stopped responding (no heartbeat).", code="node_timeout")
        with contextlib.suppress(Exception):
            await session.close(CLOSE_HEARTBEAT_TIMEOUT, "no heartbeat within the timeout")
    return expired


async def close_revoked_nodes(state: RelayState) -> list[AgentSession]:
    """Disconnect tunnels of nodes revoked in the store (e.g. by the CLI)."""
    live = state.directory.sessions()
    if not live:
        return []
    revoked = {n.id for n in await state.store.list_nodes() if n.revoked}
    closed = [s for s in live if s.node_id in revoked]
    for session in closed:
        await disconnect_revoked(state, session)
    return closed


async def disconnect_revoked(state: RelayState, session: AgentSession) -> None:
    log.warning("node %s was revoked; closing its tunnel", session.node_name)
    state.directory.detach(session)
    session.fail_all("The node was revoked.", code="node_revoked")
    with contextlib.suppress(Exception):
        await session.close(CLOSE_REVOKED, "node revoked")


async def close_tunnels_when_idle(state: RelayState, *, timeout_s: float) -> None:
    """At shutdown: route nothing new to the nodes, let the streams in flight finish (up
    to ``timeout_s``), then close the tunnels, so the server's graceful stop is not left
    waiting on open WebSockets. The agents reconnect to the next relay by themselves."""
    sessions = state.directory.sessions()
    idle = asyncio.Event()

    def check(_group_id: str = "") -> None:
        if not any(s.in_flight for s in sessions if not s.closed):
            idle.set()

    for session in sessions:
        session.draining = True
        session.on_capacity = check  # told whenever one of its streams ends
    check()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(idle.wait(), max(0.0, timeout_s))
    for session in sessions:
        state.directory.detach(session)
        session.fail_all("The relay is shutting down.", code="relay_shutdown")
        with contextlib.suppress(Exception):
            await session.close(CLOSE_RELAY_SHUTDOWN, "relay shutting down")


async def run_maintenance(state: RelayState) -> None:
    """Loop forever; cancel it to stop (safe to cancel at any await)."""
    tick = max(0.05, min(1.0, state.settings.heartbeat_timeout_s / 4))
    next_db_check = 0.0
    while True:
        await asyncio.sleep(tick)
        try:
            await expire_silent_nodes(state)
            now = time.monotonic()
            if now >= next_db_check:
                next_db_check = now + state.settings.revocation_poll_s
                await close_revoked_nodes(state)
                await state.keys.flush_last_used()
        except asyncio.CancelledError:
            raise
        except Exception:  # a store hiccup must not stop the upkeep
            log.exception("relay maintenance failed; retrying")
