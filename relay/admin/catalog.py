"""The stored objects one admin may see: their groups with members, keys and nodes.

Loaded from the store in a handful of queries when a console connects, after a change
made through the admin API, and every few seconds otherwise (changes made with the CLI).
Every read is filtered by what the caller manages; only the operator sees all groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relay.admin.auth import Admin
from relay.admin.views import group_view, key_view
from relay.state import RelayState
from storage import ApiKey, Group, Membership, ModelAlias, Node, User


@dataclass(slots=True)
class Catalog:
    """A consistent-enough picture of the caller's groups (safe to rebuild at any time)."""

    groups: list[Group] = field(default_factory=list)
    members: dict[str, list[Membership]] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    keys: list[ApiKey] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    aliases: list[ModelAlias] = field(default_factory=list)

    @property
    def group_names(self) -> dict[str, str]:
        return {g.id: g.name for g in self.groups}

    def groups_view(self) -> list[dict[str, Any]]:
        nodes: dict[str, int] = {}
        keys: dict[str, int] = {}
        for node in self.nodes:
            nodes[node.group_id] = nodes.get(node.group_id, 0) + 1
        for key in self.keys:
            if not key.revoked:
                keys[key.group_id] = keys.get(key.group_id, 0) + 1
        return [
            group_view(
                g,
                self.members.get(g.id, []),
                self.users,
                nodes=nodes.get(g.id, 0),
                keys=keys.get(g.id, 0),
            )
            for g in self.groups
        ]

    def aliases_view(self) -> list[dict[str, Any]]:
        return [
            {"group_id": a.group_id, "alias": a.alias, "targets": list(a.targets)}
            for a in self.aliases
        ]

    def keys_view(self) -> list[dict[str, Any]]:
        names = self.group_names
        return [key_view(k, self.users, names) for k in self.keys]


async def load_catalog(state: RelayState, admin: Admin) -> Catalog:
    """Read the caller's groups, members, keys and (unrevoked) nodes. Safe to cancel."""
    store = state.store
    groups = [g for g in await store.list_groups() if admin.manages(g.id)]
    catalog = Catalog(groups=groups, users={u.id: u for u in await store.list_users()})
    if admin.is_operator:
        catalog.keys = await store.list_api_keys()
        catalog.nodes = [n for n in await store.list_nodes() if not n.revoked]
    for group in groups:
        catalog.members[group.id] = await store.list_members(group.id)
        catalog.aliases += await store.list_aliases(group.id)
        if not admin.is_operator:
            catalog.keys += await store.list_api_keys(group_id=group.id)
            catalog.nodes += [n for n in await store.list_nodes(group_id=group.id) if not n.revoked]
    visible = {g.id for g in groups}
    catalog.keys = [k for k in catalog.keys if k.group_id in visible]
    catalog.nodes = [n for n in catalog.nodes if n.group_id in visible]
    return catalog
