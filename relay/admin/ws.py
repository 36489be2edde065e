"""``/admin/ws``: the console's socket. A snapshot, then coalesced updates and commands.

The handshake must carry ``Authorization: Bearer <admin token>`` (never the URL); a
browser ``Origin`` must be in ``admin_allowed_origins``. A refused handshake is an HTTP
401/403 with the usual ``{"error": ...}`` body. Frames are JSON text:

* relay -> console: ``{"type": "snapshot", ...}`` once, then ``{"type": "update", ...}``
  at most every ``admin_update_interval_s`` (only when something changed; see
  :mod:`relay.admin.live`), and ``{"type": "result", "id", "ok", "result" | "error"}``
  answering a command;
* console -> relay: ``{"type": "command", "id": <any>, "command": "key.create",
  "params": {...}}`` (the commands of :mod:`relay.admin.commands`).

The relay closes the socket with 4401 when the token expires and 4403 when the caller's
rights are withdrawn; the console reconnects with a fresh token or gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from quart import Blueprint, Response, websocket

from relay.admin.auth import Admin, authenticate, check_origin
from relay.admin.commands import dispatch
from relay.admin.errors import AdminError
from relay.admin.live import LiveView
from relay.admin.runtime import AdminRuntime, admin_runtime
from relay.state import RelayState, relay_state

log = logging.getLogger(__name__)
blueprint = Blueprint("admin_ws", __name__, url_prefix="/admin")

CLOSE_TOKEN_EXPIRED = 4401
CLOSE_FORBIDDEN = 4403
MAX_PENDING_COMMANDS = 8


class AdminSocket:
    """One accepted admin socket: serialised sends, the update loop, command tasks."""

    def __init__(self, state: RelayState, runtime: AdminRuntime, admin: Admin) -> None:
        self.state = state
        self.runtime = runtime
        self.view = LiveView(state, runtime, admin)
        self._send = websocket.send  # bound to this connection's socket object
        self._close = websocket.close
        self._lock = asyncio.Lock()
        self._commands: set[asyncio.Task[None]] = set()

    async def send(self, message: dict[str, Any]) -> None:
        data = orjson.dumps(message).decode()
        async with self._lock:
            await self._send(data)

    async def updates(self) -> None:
        """Send coalesced updates until cancelled or the caller loses access."""
        interval = self.state.settings.admin_update_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                message = await self.view.update()
            except AdminError as err:
                code = CLOSE_TOKEN_EXPIRED if err.status == 401 else CLOSE_FORBIDDEN
                await self._close(code, err.message[:120])
                return
            except Exception:  # a store hiccup: try again next time
                log.exception("admin update failed; retrying")
                continue
            if message is not None:
                await self.send(message)

    def command(self, raw: str | bytes) -> None:
        """Start one command from a frame; its result is sent when it is done."""
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            frame = None
        if not isinstance(frame, dict) or frame.get("type") != "command":
            error = AdminError(400, "Expected {'type': 'command', 'id', 'command', 'params'}.")
            task = asyncio.ensure_future(self._reply(None, error))
        elif len(self._commands) >= MAX_PENDING_COMMANDS:
            error = AdminError(429, "Too many commands at once; wait for the answers.")
            task = asyncio.ensure_future(self._reply(frame.get("id"), error))
        else:
            task = asyncio.ensure_future(self._run(frame))
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    async def _run(self, frame: dict[str, Any]) -> None:
        name = frame.get("command")
        try:
            if not isinstance(name, str):
                raise AdminError(400, "'command' must be a string.", param="command")
            result = await dispatch(
                self.state, self.runtime, self.view.admin, name, frame.get("params")
            )
        except AdminError as err:
            await self._reply(frame.get("id"), err)
            return
        except Exception:
            log.exception("admin command %r failed", name)
            await self._reply(frame.get("id"), AdminError(500, "The command failed on the relay."))
            return
        with contextlib.suppress(Exception):  # the socket may be gone; the work is done
            await self.send({"type": "result", "id": frame.get("id"), "ok": True, "result": result})

    async def _reply(self, ident: Any, error: AdminError) -> None:
        with contextlib.suppress(Exception):
            await self.send({"type": "result", "id": ident, "ok": False, **error.body()})


@blueprint.websocket("/ws")
async def admin_socket() -> Response | None:
    state = relay_state()
    try:
        check_origin(state, websocket.headers.get("Origin"))
        admin = await authenticate(state, websocket.headers.get("Authorization"))
    except AdminError as err:
        return err.response()
    await websocket.accept()
    sock = AdminSocket(state, admin_runtime(), admin)
    updates: asyncio.Task[None] | None = None
    try:
        await sock.send(await sock.view.snapshot())
        updates = asyncio.ensure_future(sock.updates())
        while True:
            sock.command(await websocket.receive())
    finally:
        if updates is not None:
            updates.cancel()
        sock.view.close()
    return None
