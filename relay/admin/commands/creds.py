"""Admin commands on credentials and nodes: API keys, node tokens, drain and resume.

A created key or node token is returned once, in the command's result, and never again:
only its SHA-256 digest is stored. Revoking a key takes effect at once on this relay
(its cache entry is dropped); revoking a node closes its live tunnel at once.
"""

from __future__ import annotations

from typing import Any

from relay.admin.catalog import load_catalog
from relay.admin.commands.base import Ctx, Params, command
from relay.admin.errors import bad_request, conflict
from relay.admin.views import key_view, node_record_view, node_status
from relay.maintenance import disconnect_revoked
from relay.security import new_api_key, new_node_token
from storage import Conflict


@command("keys.list", mutates=False)
async def list_keys(ctx: Ctx, params: Params) -> dict[str, Any]:
    """Keys by name and visible prefix, of one group (``group``) or all the caller's."""
    catalog = await load_catalog(ctx.state, ctx.admin)
    keys = catalog.keys_view()
    if params.optional("group") is not None:
        group = await ctx.group(params)
        keys = [k for k in keys if k["group_id"] == group.id]
    return {"keys": keys}


@command("key.create")
async def create_key(ctx: Ctx, params: Params) -> dict[str, Any]:
    """A consumer key for a member of a group (``user``, default the caller)."""
    group = await ctx.group(params)
    name = params.name("name", "key")
    store = ctx.state.store
    user = await ctx.user(params) if params.optional("user") else ctx.admin.user
    if await store.get_membership(group.id, user.id) is None:
        raise bad_request(
            f"{user.name!r} is not a member of {group.name!r}; add them first "
            "or pick a member as 'user'.",
            param="user",
        )
    secret, prefix, digest = new_api_key()
    key = await store.create_api_key(
        prefix=prefix, key_hash=digest, user_id=user.id, group_id=group.id, name=name
    )
    detail = f"name={key.name} prefix={key.prefix} group={group.name} user={user.name}"
    await ctx.audit("key.create", key.id, detail)
    view = key_view(key, {user.id: user}, {group.id: group.name})
    return {"key": view, "secret": secret}


@command("key.revoke")
async def revoke_key(ctx: Ctx, params: Params) -> dict[str, Any]:
    key = await ctx.key(params)
    if key.revoked or not await ctx.state.store.revoke_api_key(key.id):
        raise conflict(f"Key {key.name!r} is already revoked.")
    ctx.state.keys.forget(key.id)
    await ctx.audit("key.revoke", key.id, f"name={key.name} prefix={key.prefix}")
    return {"key_id": key.id, "revoked": True}


@command("nodes.list", mutates=False)
async def list_nodes(ctx: Ctx, params: Params) -> dict[str, Any]:
    """Registered nodes with their status (the live detail is in the snapshot)."""
    catalog = await load_catalog(ctx.state, ctx.admin)
    names = catalog.group_names
    directory = ctx.state.directory
    return {
        "nodes": [
            {**node_record_view(n, names), "status": node_status(directory.get(n.id))}
            for n in catalog.nodes
        ]
    }


@command("node.create")
async def create_node(ctx: Ctx, params: Params) -> dict[str, Any]:
    """Register a node in a group and issue its token (owned by the caller)."""
    group = await ctx.group(params)
    name = params.name("name", "node")
    secret, digest = new_node_token()
    try:
        node = await ctx.state.store.create_node(
            name=name, group_id=group.id, user_id=ctx.admin.user.id, token_hash=digest
        )
    except Conflict:
        raise conflict(
            f"Group {group.name!r} already has a node named {name!r}.", param="name"
        ) from None
    await ctx.audit("node.create", node.id, f"name={node.name} group={group.name}")
    return {"node": node_record_view(node, {group.id: group.name}), "token": secret}


@command("node.revoke")
async def revoke_node(ctx: Ctx, params: Params) -> dict[str, Any]:
    node = await ctx.node(params)
    state = ctx.state
    if not await state.store.revoke_node(node.id):
        raise conflict(f"Node {node.name!r} is already revoked.")
    ctx.runtime.drained.discard(node.id)
    session = state.directory.get(node.id)
    if session is not None:
        await disconnect_revoked(state, session)
    await ctx.audit("node.revoke", node.id, f"name={node.name}")
    return {"node_id": node.id, "revoked": True}


async def _set_drained(ctx: Ctx, params: Params, drained: bool) -> dict[str, Any]:
    node = await ctx.node(params)
    ctx.runtime.set_drained(node.id, drained)
    action = "node.drain" if drained else "node.resume"
    await ctx.audit(action, node.id, f"name={node.name}")
    status = node_status(ctx.state.directory.get(node.id))
    return {"node_id": node.id, "drained": drained, "status": status}


@command("node.drain")
async def drain_node(ctx: Ctx, params: Params) -> dict[str, Any]:
    """Send the node no new requests (running ones finish); lasts until ``node.resume``."""
    return await _set_drained(ctx, params, True)


@command("node.resume")
async def resume_node(ctx: Ctx, params: Params) -> dict[str, Any]:
    return await _set_drained(ctx, params, False)
