"""The relay's admin API: ``/admin/ws`` for the console and ``/admin/api/`` for scripts.

:data:`BLUEPRINTS` are registered by :func:`relay.app.create_app`, which also starts the
process's :class:`~relay.admin.runtime.AdminRuntime` with :func:`start_admin` once the
relay's state exists. Everything an admin sees or changes is authorized here, on the
server: the operator sees all groups, a group owner/admin only their own.
"""

from __future__ import annotations

from relay.admin import rest, ws
from relay.admin.runtime import AdminRuntime, start_admin

BLUEPRINTS = (rest.blueprint, ws.blueprint)

__all__ = ["BLUEPRINTS", "AdminRuntime", "start_admin"]
