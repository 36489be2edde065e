"""Admin commands on groups and their members.

Only the operator creates groups. Owners and admins of a group rename it and manage its
members; only an owner (or the operator) deletes the group or grants, changes or removes
the owner role. A group never loses its last owner through these commands.
"""

from __future__ import annotations

from typing import Any

from relay.admin.catalog import load_catalog
from relay.admin.commands.base import ROLES, Ctx, Params, command
from relay.admin.errors import AdminError, conflict
from relay.admin.views import group_view, member_view
from relay.maintenance import disconnect_revoked
from storage import Conflict, Group, Role


async def _group_view(ctx: Ctx, group: Group) -> dict[str, Any]:
    store = ctx.state.store
    users = {u.id: u for u in await store.list_users()}
    nodes = [n for n in await store.list_nodes(group_id=group.id) if not n.revoked]
    keys = [k for k in await store.list_api_keys(group_id=group.id) if not k.revoked]
    members = await store.list_members(group.id)
    return group_view(group, members, users, nodes=len(nodes), keys=len(keys))


@command("groups.list", mutates=False)
async def list_groups(ctx: Ctx, params: Params) -> dict[str, Any]:
    return {"groups": (await load_catalog(ctx.state, ctx.admin)).groups_view()}


@command("group.create")
async def create_group(ctx: Ctx, params: Params) -> dict[str, Any]:
    ctx.require_operator("create groups")
    name = params.name("name", "group")
    try:
        group = await ctx.state.store.create_group(name)
    except Conflict:
        raise conflict(f"A group named {name!r} already exists.", param="name") from None
    await ctx.audit("group.create", group.id, f"name={group.name}")
    return {"group": await _group_view(ctx, group)}


@command("group.rename")
async def rename_group(ctx: Ctx, params: Params) -> dict[str, Any]:
    group = await ctx.group(params)
    name = params.name("name", "group")
    try:
        renamed = await ctx.state.store.rename_group(group.id, name)
    except Conflict:
        raise conflict(f"A group named {name!r} already exists.", param="name") from None
    await ctx.audit("group.rename", group.id, f"from={group.name} to={renamed.name}")
    return {"group": await _group_view(ctx, renamed)}


@command("group.delete")
async def delete_group(ctx: Ctx, params: Params) -> dict[str, Any]:
    """Delete a group with its keys and nodes; its keys stop working and its nodes'
    tunnels close at once."""
    group = await ctx.group(params)
    if not ctx.admin.is_owner(group.id):
        raise AdminError(403, "Only an owner of the group may delete it.", code="owner_only")
    state = ctx.state
    keys = await state.store.list_api_keys(group_id=group.id)
    nodes = await state.store.list_nodes(group_id=group.id)
    await state.store.delete_group(group.id)
    for key in keys:
        state.keys.forget(key.id)
    for node in nodes:
        ctx.runtime.drained.discard(node.id)
        session = state.directory.get(node.id)
        if session is not None:
            await disconnect_revoked(state, session)
    await ctx.audit("group.delete", group.id, f"name={group.name}")
    return {"deleted": True, "group_id": group.id}


@command("members.list", mutates=False)
async def list_members(ctx: Ctx, params: Params) -> dict[str, Any]:
    group = await ctx.group(params)
    users = {u.id: u for u in await ctx.state.store.list_users()}
    members = await ctx.state.store.list_members(group.id)
    return {"group_id": group.id, "members": [member_view(m, users) for m in members]}


def _check_role_change(ctx: Ctx, group: Group, *roles: Role | None) -> None:
    if Role.OWNER in roles and not ctx.admin.is_owner(group.id):
        raise AdminError(
            403,
            "Only an owner of the group may grant, change or remove the owner role.",
            code="owner_only",
        )


async def _check_not_last_owner(ctx: Ctx, group: Group, user_id: str) -> None:
    owners = [m for m in await ctx.state.store.list_members(group.id) if m.role is Role.OWNER]
    if [m.user_id for m in owners] == [user_id]:
        raise conflict("That is the group's last owner; make someone else owner first.")


@command("member.add")
async def add_member(ctx: Ctx, params: Params) -> dict[str, Any]:
    """Add a user to a group (``create_user``: make the user first if there is none)."""
    group = await ctx.group(params)
    role = Role(params.choice("role", ROLES, Role.MEMBER.value))
    _check_role_change(ctx, group, role)
    store = ctx.state.store
    name = params.text("user")
    user = await store.get_user(name) or await store.get_user_by_name(name)
    if user is None and params.flag("create_user"):
        user = await store.create_user(params.name("user", "user"))
        await ctx.audit("user.create", user.id, f"name={user.name} operator=False")
    if user is None:
        raise AdminError(404, f"No user {name!r}.", code="not_found", param="user")
    try:
        member = await store.add_member(group.id, user.id, role)
    except Conflict:
        raise conflict(f"{user.name!r} is already a member of {group.name!r}.") from None
    await ctx.audit("member.add", group.id, f"user={user.name} role={role.value}")
    return {"group_id": group.id, "member": member_view(member, {user.id: user})}


@command("member.remove")
async def remove_member(ctx: Ctx, params: Params) -> dict[str, Any]:
    group = await ctx.group(params)
    user = await ctx.user(params)
    store = ctx.state.store
    membership = await store.get_membership(group.id, user.id)
    if membership is None:
        raise AdminError(404, f"{user.name!r} is not a member of {group.name!r}.", code="not_found")
    _check_role_change(ctx, group, membership.role)
    if membership.role is Role.OWNER:
        await _check_not_last_owner(ctx, group, user.id)
    await store.remove_member(group.id, user.id)
    await ctx.audit("member.remove", group.id, f"user={user.name}")
    return {"group_id": group.id, "user_id": user.id, "removed": True}


@command("member.role")
async def set_role(ctx: Ctx, params: Params) -> dict[str, Any]:
    group = await ctx.group(params)
    user = await ctx.user(params)
    role = Role(params.choice("role", ROLES, ""))
    store = ctx.state.store
    membership = await store.get_membership(group.id, user.id)
    if membership is None:
        raise AdminError(404, f"{user.name!r} is not a member of {group.name!r}.", code="not_found")
    _check_role_change(ctx, group, membership.role, role)
    if membership.role is Role.OWNER and role is not Role.OWNER:
        await _check_not_last_owner(ctx, group, user.id)
    member = await store.set_member_role(group.id, user.id, role)
    detail = f"user={user.name} from={membership.role.value} to={role.value}"
    await ctx.audit("member.role", group.id, detail)
    return {"group_id": group.id, "member": member_view(member, {user.id: user})}
