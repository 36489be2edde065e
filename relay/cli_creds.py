"""The credential commands of ``llmcluster-relay``: consumer API keys and node tokens.

A fresh secret is returned once in the command's result and never stored: the store only
gets its SHA-256 digest. Listings show ids, names and the visible key prefix, never a
digest. Every change is audited (actor ``cli:<login name>``, no secret in the detail).
"""

from __future__ import annotations

import argparse
from typing import Any

from relay.cli_common import (
    CliError,
    Result,
    actor,
    check_name,
    group_named,
    iso,
    operator_user,
    short_time,
    table,
    user_named,
)
from relay.security import new_api_key, new_node_token
from storage.base import ApiKey, Conflict, Group, Node, NotFound, Role, Store, User

ONCE = "It is shown once and cannot be recovered: store it now."


async def _names(store: Store) -> tuple[dict[str, str], dict[str, str]]:
    """Group and user names by id, for listings."""
    groups = {g.id: g.name for g in await store.list_groups()}
    users = {u.id: u.name for u in await store.list_users()}
    return groups, users


async def cmd_key_create(store: Store, args: argparse.Namespace) -> Result:
    """Issue a consumer key for a member of a group."""
    name = check_name("key", args.name)
    group = await group_named(store, args.group)
    user = await user_named(store, args.user)
    if await store.get_membership(group.id, user.id) is None:
        raise CliError(
            f"user {user.name!r} is not a member of group {group.name!r}; "
            f"add them first with 'member add --group {group.name} --user {user.name}'"
        )
    secret, prefix, digest = new_api_key()
    try:
        key = await store.create_api_key(
            prefix=prefix, key_hash=digest, user_id=user.id, group_id=group.id, name=name
        )
    except (Conflict, NotFound) as exc:
        raise CliError(f"cannot create the key: {exc}") from None
    detail = f"name={key.name} prefix={key.prefix} group={group.name} user={user.name}"
    await store.audit(actor(), "key.create", key.id, detail)
    data = {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "group": group.name,
        "user": user.name,
        "key": secret,
    }
    text = [
        f"Created key {key.name!r} (id {key.id}) for {user.name!r} in group {group.name!r}.",
        ONCE,
        "",
        secret,
    ]
    return Result(data, text)


def _key_entry(key: ApiKey, groups: dict[str, str], users: dict[str, str]) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "group": groups.get(key.group_id, key.group_id),
        "user": users.get(key.user_id, key.user_id),
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked_at": iso(key.revoked_at),
        "revoked": key.revoked,
    }


async def cmd_key_list(store: Store, args: argparse.Namespace) -> Result:
    """Keys, optionally of one group and/or user (never their digests)."""
    group_id = (await group_named(store, args.group)).id if args.group else None
    user_id = (await user_named(store, args.user)).id if args.user else None
    keys = await store.list_api_keys(group_id=group_id, user_id=user_id)
    groups, users = await _names(store)
    entries = [_key_entry(k, groups, users) for k in keys]
    rows = [
        [
            k.id,
            k.name,
            k.prefix + "...",
            str(e["group"]),
            str(e["user"]),
            short_time(k.created_at),
            short_time(k.last_used_at),
            short_time(k.revoked_at) if k.revoked else "no",
        ]
        for k, e in zip(keys, entries, strict=True)
    ]
    headers = ["id", "name", "prefix", "group", "user", "created", "last used", "revoked"]
    return Result({"keys": entries}, table(headers, rows, "No keys."))


async def cmd_key_revoke(store: Store, args: argparse.Namespace) -> Result:
    """Revoke a key by id."""
    key = await store.get_api_key(args.key_id)
    if key is None:
        raise CliError(f"no key with id {args.key_id!r}")
    if key.revoked or not await store.revoke_api_key(key.id):
        raise CliError(f"key {key.id} is already revoked")
    await store.audit(actor(), "key.revoke", key.id, f"name={key.name} prefix={key.prefix}")
    revoked = await store.get_api_key(key.id)
    data = {
        "id": key.id,
        "revoked": True,
        "revoked_at": iso(revoked.revoked_at if revoked else None),
    }
    return Result(data, [f"Revoked key {key.name!r} (id {key.id})."])


async def _node_owner(store: Store, group: Group, user_name: str | None) -> User:
    """The user a new node belongs to: ``--user``, else the group's first owner, else
    the operator. A named user must be a member of the group or an operator."""
    if user_name is not None:
        user = await user_named(store, user_name)
        if not user.is_operator and await store.get_membership(group.id, user.id) is None:
            raise CliError(f"user {user.name!r} is not a member of group {group.name!r}")
        return user
    owner = next((m for m in await store.list_members(group.id) if m.role is Role.OWNER), None)
    found = await store.get_user(owner.user_id) if owner else await operator_user(store)
    if found is None:
        raise CliError(
            f"group {group.name!r} has no owner and the relay has no operator; pass --user"
        )
    return found


async def cmd_node_add(store: Store, args: argparse.Namespace) -> Result:
    """Register a GPU node in a group and issue its token."""
    name = check_name("node", args.name)
    group = await group_named(store, args.group)
    user = await _node_owner(store, group, args.user)
    secret, digest = new_node_token()
    try:
        node = await store.create_node(
            name=name, group_id=group.id, user_id=user.id, token_hash=digest
        )
    except Conflict:
        raise CliError(f"group {group.name!r} already has a node named {name!r}") from None
    except NotFound as exc:
        raise CliError(f"cannot register the node: {exc}") from None
    await store.audit(
        actor(), "node.create", node.id, f"name={node.name} group={group.name} user={user.name}"
    )
    data = {
        "id": node.id,
        "name": node.name,
        "group": group.name,
        "user": user.name,
        "token": secret,
    }
    text = [
        f"Registered node {node.name!r} (id {node.id}) in group {group.name!r},"
        f" owned by {user.name!r}.",
        f"Node token for the agent's config. {ONCE}",
        "",
        secret,
    ]
    return Result(data, text)


def _node_entry(node: Node, groups: dict[str, str], users: dict[str, str]) -> dict[str, Any]:
    return {
        "id": node.id,
        "name": node.name,
        "group": groups.get(node.group_id, node.group_id),
        "user": users.get(node.user_id, node.user_id),
        "created_at": iso(node.created_at),
        "revoked_at": iso(node.revoked_at),
        "revoked": node.revoked,
    }


async def cmd_node_list(store: Store, args: argparse.Namespace) -> Result:
    """Nodes, optionally of one group (never their token digests)."""
    group_id = (await group_named(store, args.group)).id if args.group else None
    nodes = await store.list_nodes(group_id=group_id)
    groups, users = await _names(store)
    entries = [_node_entry(n, groups, users) for n in nodes]
    rows = [
        [
            n.id,
            n.name,
            str(e["group"]),
            str(e["user"]),
            short_time(n.created_at),
            short_time(n.revoked_at) if n.revoked else "no",
        ]
        for n, e in zip(nodes, entries, strict=True)
    ]
    headers = ["id", "name", "group", "user", "created", "revoked"]
    return Result({"nodes": entries}, table(headers, rows, "No nodes."))


async def cmd_node_revoke(store: Store, args: argparse.Namespace) -> Result:
    """Revoke a node by id (its agent can no longer open a tunnel)."""
    node = await store.get_node(args.node_id)
    if node is None:
        raise CliError(f"no node with id {args.node_id!r}")
    if node.revoked or not await store.revoke_node(node.id):
        raise CliError(f"node {node.id} is already revoked")
    await store.audit(actor(), "node.revoke", node.id, f"name={node.name}")
    revoked = await store.get_node(node.id)
    data = {
        "id": node.id,
        "revoked": True,
        "revoked_at": iso(revoked.revoked_at if revoked else None),
    }
    return Result(data, [f"Revoked node {node.name!r} (id {node.id})."])
