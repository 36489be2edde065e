"""A small circle for admin-API tests: an operator, two groups, their admins and nodes.

Shared by the relay's admin tests and the console's Pilot tests. Admin tokens are issued
the way ``llmcluster-relay token create`` issues them (the relay's signing key, from the
same database), so the relay under test accepts them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx

from relay.security import new_api_key, new_node_token
from relay.tokens import ADMIN_AUDIENCE, SIGNING_SECRET_NAME, TokenSigner, new_signing_secret
from storage import Role, Store, open_store


@dataclass
class World:
    """Ids and secrets of the circle (tokens by user name)."""

    database_url: str
    groups: dict[str, str] = field(default_factory=dict)  # name -> id
    users: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (id, token)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (id, secret)


async def issue_token(store: Store, user_id: str, ttl_s: int = 3600) -> str:
    secret = await store.get_or_create_secret(SIGNING_SECRET_NAME, new_signing_secret())
    return TokenSigner(secret).issue(user_id, ADMIN_AUDIENCE, ttl_s)


async def build_world(database_url: str) -> World:
    """root (operator); friends: alice owner, bob member, node rig-1, key laptop;
    others: carol admin, node rig-2, key phone."""
    world = World(database_url)
    store = await open_store(database_url)
    try:
        root = await store.create_user("root", is_operator=True)
        world.users["root"] = root.id
        for name in ("alice", "bob", "carol"):
            world.users[name] = (await store.create_user(name)).id
        for name in ("friends", "others"):
            world.groups[name] = (await store.create_group(name)).id
        friends, others = world.groups["friends"], world.groups["others"]
        await store.add_member(friends, world.users["alice"], Role.OWNER)
        await store.add_member(friends, world.users["bob"], Role.MEMBER)
        await store.add_member(others, world.users["carol"], Role.ADMIN)
        for node, group, user in (("rig-1", friends, "alice"), ("rig-2", others, "carol")):
            token, digest = new_node_token()
            n = await store.create_node(
                name=node, group_id=group, user_id=world.users[user], token_hash=digest
            )
            world.nodes[node] = (n.id, token)
        for key, group, user in (("laptop", friends, "alice"), ("phone", others, "carol")):
            secret, prefix, digest = new_api_key()
            k = await store.create_api_key(
                prefix=prefix,
                key_hash=digest,
                user_id=world.users[user],
                group_id=group,
                name=key,
            )
            world.keys[key] = (k.id, secret)
        for name in ("root", "alice", "bob", "carol"):
            world.tokens[name] = await issue_token(store, world.users[name])
    finally:
        await store.close()
    return world


async def audit_actions(database_url: str, limit: int = 50) -> list[tuple[str, str, str, str]]:
    """The newest audit records as (actor, action, target, detail)."""
    store = await open_store(database_url)
    try:
        return [
            (a.actor, a.action, a.target, a.detail) for a in await store.list_audit(limit=limit)
        ]
    finally:
        await store.close()


def api(base_url: str, token: str | None, **headers: str) -> httpx.Client:
    """An HTTP client for ``/admin/api`` with the given admin token."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=base_url + "/admin/api", headers=headers, timeout=10)


def error_of(response: httpx.Response, status: int) -> dict[str, object]:
    """The OpenAI-format error of a refused request (checking its shape and status)."""
    assert response.status_code == status, response.text
    error: dict[str, object] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in str(error["message"])
    return error


class AdminSocket:
    """A raw ``/admin/ws`` connection for tests: frames as dicts, commands by id."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.http = http
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._ids = 0

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame: dict[str, Any] = json.loads(msg.data)
        self.frames.append(frame)
        return frame

    async def until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15
    ) -> dict[str, Any]:
        """The first frame (from now) that satisfies ``predicate``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError("no matching frame")
            frame = await self.next(left)
            if predicate(frame):
                return frame

    async def command(self, name: str, /, **params: Any) -> dict[str, Any]:
        """Send a command and return its result frame (other frames are kept)."""
        self._ids += 1
        ident = self._ids
        await self.ws.send_json({"type": "command", "id": ident, "command": name, "params": params})
        return await self.until(lambda f: f.get("type") == "result" and f.get("id") == ident)

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


async def open_socket(base_url: str, token: str | None, **headers: str) -> AdminSocket:
    """Connect to ``/admin/ws`` (raises ``WSServerHandshakeError`` when refused)."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    http = aiohttp.ClientSession()
    try:
        ws = await http.ws_connect(base_url.replace("http", "ws", 1) + "/admin/ws", headers=headers)
    except BaseException:
        await http.close()
        raise
    return AdminSocket(http, ws)
