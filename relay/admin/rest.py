"""REST equivalents of the admin commands, under ``/admin/api/``, for scripts.

Each route maps to one command of :mod:`relay.admin.commands`; its parameters are the
path's, the query string's and the JSON body's (path wins). The caller authenticates with
``Authorization: Bearer <admin token>``; errors are ``{"error": {...}}`` with the HTTP
status (400, 401, 403, 404, 409). ``POST /admin/api/commands/<name>`` runs any command
with the JSON body as its parameters, exactly as the WebSocket does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from quart import Blueprint, Response, request

from relay.admin.auth import Admin, authenticate, check_origin
from relay.admin.commands import dispatch
from relay.admin.errors import AdminError, bad_request
from relay.admin.live import LiveView
from relay.admin.runtime import admin_runtime
from relay.state import relay_state

blueprint = Blueprint("admin_api", __name__, url_prefix="/admin/api")

# (method, rule, command, success status)
ROUTES: list[tuple[str, str, str, int]] = [
    ("GET", "/me", "me", 200),
    ("GET", "/requests", "requests.recent", 200),
    ("GET", "/usage", "usage", 200),
    ("GET", "/groups", "groups.list", 200),
    ("POST", "/groups", "group.create", 201),
    ("PATCH", "/groups/<group>", "group.rename", 200),
    ("DELETE", "/groups/<group>", "group.delete", 200),
    ("GET", "/groups/<group>/members", "members.list", 200),
    ("POST", "/groups/<group>/members", "member.add", 201),
    ("PATCH", "/groups/<group>/members/<user>", "member.role", 200),
    ("DELETE", "/groups/<group>/members/<user>", "member.remove", 200),
    ("GET", "/keys", "keys.list", 200),
    ("POST", "/groups/<group>/keys", "key.create", 201),
    ("DELETE", "/keys/<key>", "key.revoke", 200),
    ("GET", "/nodes", "nodes.list", 200),
    ("POST", "/groups/<group>/nodes", "node.create", 201),
    ("DELETE", "/nodes/<node>", "node.revoke", 200),
    ("POST", "/nodes/<node>/drain", "node.drain", 200),
    ("POST", "/nodes/<node>/resume", "node.resume", 200),
    ("GET", "/groups/<group>/aliases", "aliases.list", 200),
    ("PUT", "/groups/<group>/aliases/<alias>", "alias.set", 200),
    ("DELETE", "/groups/<group>/aliases/<alias>", "alias.delete", 200),
]


def _json(data: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(data), status=status, content_type="application/json")


async def _caller() -> Admin:
    state = relay_state()
    check_origin(state, request.headers.get("Origin"))
    return await authenticate(state, request.headers.get("Authorization"))


async def _body() -> dict[str, Any]:
    raw = await request.get_data()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


async def _run(name: str, params: dict[str, Any], status: int) -> Response:
    try:
        admin = await _caller()
        # Shielded: a client hanging up must not cut a write between store and audit.
        task = asyncio.ensure_future(dispatch(relay_state(), admin_runtime(), admin, name, params))
        result = await asyncio.shield(task)
    except AdminError as err:
        return err.response()
    return _json(result, status)


def _view(name: str, status: int) -> Any:
    async def view(**path: str) -> Response:
        try:
            params: dict[str, Any] = {**request.args.to_dict(), **await _body(), **path}
        except AdminError as err:
            return err.response()
        return await _run(name, params, status)

    view.__name__ = "admin_" + name.replace(".", "_")
    return view


for _method, _rule, _name, _status in ROUTES:
    blueprint.add_url_rule(
        _rule, f"{_method}_{_name}".replace(".", "_"), _view(_name, _status), methods=[_method]
    )


@blueprint.post("/commands/<name>")
async def run_command(name: str) -> Response:
    try:
        params = await _body()
    except AdminError as err:
        return err.response()
    return await _run(name, params, 200)


@blueprint.get("/snapshot")
async def snapshot() -> Response:
    """What the WebSocket sends first, for scripts that want one picture."""
    try:
        admin = await _caller()
        view = LiveView(relay_state(), admin_runtime(), admin)
        try:
            return _json(await view.snapshot())
        finally:
            view.close()
    except AdminError as err:
        return err.response()
