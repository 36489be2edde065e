"""Admin commands (see :mod:`relay.admin.commands.base`) and :func:`dispatch`, their one
entry point for both the REST endpoints and the WebSocket."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relay.admin.auth import Admin, reload
from relay.admin.commands import creds, groups, usage
from relay.admin.commands.base import REGISTRY, Ctx, Params
from relay.admin.errors import AdminError, from_store
from relay.admin.runtime import AdminRuntime
from relay.state import RelayState
from storage import StoreError

__all__ = ["REGISTRY", "creds", "dispatch", "groups", "usage"]


async def dispatch(
    state: RelayState,
    runtime: AdminRuntime,
    admin: Admin,
    name: str,
    params: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Run one command for ``admin`` (rights re-read first) and return its result.

    Raises :class:`AdminError` for anything refused. Not safe to cancel halfway through
    a command that writes (the store's own writes are atomic, the audit record may be
    missing); the WebSocket and REST handlers therefore await it to the end.
    """
    command = REGISTRY.get(name)
    if command is None:
        raise AdminError(
            400,
            f"Unknown command {name!r}. Known: {', '.join(sorted(REGISTRY))}.",
            code="unknown_command",
            param="command",
        )
    fresh = await reload(state, admin)
    try:
        result = await command.handler(Ctx(state, runtime, fresh), Params(params))
    except StoreError as exc:
        raise from_store(exc) or AdminError(500, "The store refused the change.") from exc
    except ValueError as exc:  # the store's own validation (e.g. an empty alias)
        raise AdminError(400, str(exc), code="invalid_value") from None
    if command.mutates:
        state.events.publish("admin", {"command": name, "actor": fresh.actor})
    return result
