"""The admin command registry: one handler per command, shared by REST and WebSocket.

A handler takes a :class:`Ctx` (who is asking, with rights re-read for this command) and
the command's :class:`Params`, checks on the server that the caller may do it, does it,
writes an audit record (``user:<name>``, never a secret in the detail) and returns a
JSON-able dict. Refusals are :class:`~relay.admin.errors.AdminError`. Commands that
change something are announced on the event hub (``admin`` events) so every open
console re-reads the store and shows the change.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from relay.admin.auth import Admin
from relay.admin.errors import AdminError, bad_request, not_found
from relay.admin.runtime import AdminRuntime
from relay.state import RelayState
from storage import ApiKey, Group, Node, Role, User

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
ROLES = tuple(r.value for r in Role)


class Params:
    """A command's parameters, checked one by one (400 naming the bad parameter)."""

    def __init__(self, raw: Mapping[str, Any] | None) -> None:
        if raw is not None and not isinstance(raw, Mapping):
            raise bad_request("'params' must be an object.", param="params")
        self._raw = dict(raw or {})

    def raw(self, name: str) -> Any:
        return self._raw.get(name)

    def text(self, name: str, default: str | None = None) -> str:
        value = self._raw.get(name, default)
        if not isinstance(value, str) or not value.strip():
            raise bad_request(f"'{name}' is required and must be a non-empty string.", param=name)
        return value.strip()

    def optional(self, name: str) -> str | None:
        return self.text(name) if self._raw.get(name) not in (None, "") else None

    def name(self, param: str, kind: str) -> str:
        value = self.text(param)
        if not NAME.fullmatch(value):
            raise bad_request(
                f"Invalid {kind} name {value!r}: use 1-64 letters, digits, '.', '_', '-' or "
                "'@', starting with a letter or digit.",
                param=param,
            )
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self._raw.get(name, default)
        if value not in options:
            raise bad_request(f"'{name}' must be one of {', '.join(options)}.", param=name)
        return str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._raw.get(name, default)
        if not isinstance(value, bool):
            raise bad_request(f"'{name}' must be true or false.", param=name)
        return value


@dataclass(slots=True)
class Ctx:
    """One command's context: the relay, the admin runtime and the (reloaded) caller."""

    state: RelayState
    runtime: AdminRuntime
    admin: Admin

    async def audit(self, action: str, target: str, detail: str = "") -> None:
        await self.state.store.audit(self.admin.actor, action, target, detail)

    def require_operator(self, what: str) -> None:
        if not self.admin.is_operator:
            raise AdminError(403, f"Only the operator may {what}.", code="operator_only")

    async def group(self, params: Params, name: str = "group") -> Group:
        """The group named by id or name; 404 if missing or not managed by the caller."""
        ref = params.text(name)
        store = self.state.store
        group = await store.get_group(ref) or await store.get_group_by_name(ref)
        if group is None or not self.admin.manages(group.id):
            raise not_found("group", ref, param=name)
        return group

    async def user(self, params: Params, name: str = "user") -> User:
        ref = params.text(name)
        store = self.state.store
        user = await store.get_user(ref) or await store.get_user_by_name(ref)
        if user is None:
            raise AdminError(404, f"No user {ref!r}.", code="not_found", param=name)
        return user

    async def key(self, params: Params, name: str = "key") -> ApiKey:
        ref = params.text(name)
        key = await self.state.store.get_api_key(ref)
        if key is None or not self.admin.manages(key.group_id):
            raise not_found("key", ref, param=name)
        return key

    async def node(self, params: Params, name: str = "node") -> Node:
        ref = params.text(name)
        node = await self.state.store.get_node(ref)
        if node is None or node.revoked or not self.admin.manages(node.group_id):
            raise not_found("node", ref, param=name)
        return node


Handler = Callable[[Ctx, Params], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Handler
    mutates: bool


REGISTRY: dict[str, Command] = {}


def command(name: str, *, mutates: bool = True) -> Callable[[Handler], Handler]:
    """Register a handler under ``name`` (``mutates``: announce the change to consoles)."""

    def register(handler: Handler) -> Handler:
        REGISTRY[name] = Command(name, handler, mutates)
        return handler

    return register
