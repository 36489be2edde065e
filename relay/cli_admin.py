"""The admin commands of ``llmcluster-relay`` for people: init, tokens, groups, users, members.

Each command takes the open store and the parsed arguments and returns a
:class:`~relay.cli_common.Result`; every change is followed by an audit record whose actor
is ``cli:<login name>`` and whose detail never holds a secret. Keys and nodes live in
:mod:`relay.cli_creds`.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

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
from relay.tokens import ADMIN_AUDIENCE, SIGNING_SECRET_NAME, TokenSigner, new_signing_secret
from storage.base import Conflict, Role, Store, User

DAY_S = 86_400


async def _issue_admin_token(store: Store, user: User, ttl_days: int) -> tuple[str, datetime]:
    """A fresh admin JWT for ``user`` and the moment it expires."""
    secret = await store.get_or_create_secret(SIGNING_SECRET_NAME, new_signing_secret())
    signer = TokenSigner(secret)
    token = signer.issue(user.id, ADMIN_AUDIENCE, ttl_days * DAY_S)
    expires = signer.verify(token, ADMIN_AUDIENCE).expires_at
    return token, datetime.fromtimestamp(expires, UTC)


def _token_result(user: User, token: str, expires: datetime, intro: list[str]) -> Result:
    data = {"user": user.name, "user_id": user.id, "token": token, "expires_at": iso(expires)}
    text = [
        *intro,
        f"Admin token for {user.name!r}, valid until {short_time(expires)} UTC.",
        "It is shown once and cannot be recovered: store it now.",
        "",
        token,
    ]
    return Result(data, text)


async def cmd_init(store: Store, args: argparse.Namespace) -> Result:
    """Create the operator user of a fresh relay and issue its first admin token."""
    if await operator_user(store) is not None:
        raise CliError("already initialised; use 'token create --user NAME'")
    try:
        user = await store.create_user(check_name("user", args.user), is_operator=True)
    except Conflict:
        raise CliError(f"a user named {args.user!r} already exists; pick another --user") from None
    token, expires = await _issue_admin_token(store, user, args.ttl_days)
    await store.audit(actor(), "relay.init", user.id, f"operator={user.name}")
    intro = [f"Initialised the relay; operator user {user.name!r} (id {user.id})."]
    return _token_result(user, token, expires, intro)


async def cmd_token_create(store: Store, args: argparse.Namespace) -> Result:
    """An admin token for the operator or an owner/admin of some group."""
    user = await user_named(store, args.user)
    if not user.is_operator:
        roles = {m.role for m in await store.list_memberships_of_user(user.id)}
        if not roles & {Role.OWNER, Role.ADMIN}:
            raise CliError(
                f"user {user.name!r} is neither an operator nor an owner/admin of any group"
            )
    token, expires = await _issue_admin_token(store, user, args.ttl_days)
    await store.audit(actor(), "token.create", user.id, f"ttl_days={args.ttl_days}")
    return _token_result(user, token, expires, [])


async def cmd_group_create(store: Store, args: argparse.Namespace) -> Result:
    """Create a group."""
    try:
        group = await store.create_group(check_name("group", args.name))
    except Conflict:
        raise CliError(f"a group named {args.name!r} already exists") from None
    await store.audit(actor(), "group.create", group.id, f"name={group.name}")
    data = {"id": group.id, "name": group.name, "created_at": iso(group.created_at)}
    return Result(data, [f"Created group {group.name!r} (id {group.id})."])


async def cmd_group_list(store: Store, args: argparse.Namespace) -> Result:
    """All groups with their member counts."""
    groups = await store.list_groups()
    counts = {g.id: len(await store.list_members(g.id)) for g in groups}
    data = {
        "groups": [
            {"id": g.id, "name": g.name, "members": counts[g.id], "created_at": iso(g.created_at)}
            for g in groups
        ]
    }
    rows = [[g.name, g.id, str(counts[g.id]), short_time(g.created_at)] for g in groups]
    return Result(data, table(["name", "id", "members", "created"], rows, "No groups."))


async def cmd_user_add(store: Store, args: argparse.Namespace) -> Result:
    """Create a user (an operator with ``--operator``)."""
    try:
        user = await store.create_user(check_name("user", args.name), is_operator=args.operator)
    except Conflict:
        raise CliError(f"a user named {args.name!r} already exists") from None
    await store.audit(
        actor(), "user.create", user.id, f"name={user.name} operator={user.is_operator}"
    )
    data = {
        "id": user.id,
        "name": user.name,
        "is_operator": user.is_operator,
        "created_at": iso(user.created_at),
    }
    kind = "operator" if user.is_operator else "user"
    return Result(data, [f"Created {kind} {user.name!r} (id {user.id})."])


async def cmd_user_list(store: Store, args: argparse.Namespace) -> Result:
    """All users."""
    users = await store.list_users()
    data = {
        "users": [
            {
                "id": u.id,
                "name": u.name,
                "is_operator": u.is_operator,
                "created_at": iso(u.created_at),
            }
            for u in users
        ]
    }
    rows = [
        [u.name, u.id, "yes" if u.is_operator else "no", short_time(u.created_at)] for u in users
    ]
    return Result(data, table(["name", "id", "operator", "created"], rows, "No users."))


async def cmd_member_add(store: Store, args: argparse.Namespace) -> Result:
    """Add a user to a group with a role."""
    group = await group_named(store, args.group)
    user = await user_named(store, args.user)
    role = Role(args.role)
    try:
        membership = await store.add_member(group.id, user.id, role)
    except Conflict:
        raise CliError(f"user {user.name!r} is already a member of group {group.name!r}") from None
    target = f"{group.id}/{user.id}"
    await store.audit(
        actor(), "member.add", target, f"group={group.name} user={user.name} role={role}"
    )
    data = {
        "group": group.name,
        "group_id": group.id,
        "user": user.name,
        "user_id": user.id,
        "role": str(membership.role),
        "created_at": iso(membership.created_at),
    }
    text = [f"Added {user.name!r} to group {group.name!r} as {membership.role}."]
    return Result(data, text)


async def cmd_member_list(store: Store, args: argparse.Namespace) -> Result:
    """The members of one group."""
    group = await group_named(store, args.group)
    members = await store.list_members(group.id)
    names = {u.id: u.name for u in await store.list_users()}
    entries: list[dict[str, str | None]] = []
    rows: list[list[str]] = []
    for m in members:
        name = names.get(m.user_id, m.user_id)
        role = str(m.role)
        entries.append(
            {"user": name, "user_id": m.user_id, "role": role, "created_at": iso(m.created_at)}
        )
        rows.append([name, role, short_time(m.created_at)])
    text = table(["user", "role", "since"], rows, f"Group {group.name!r} has no members.")
    return Result({"group": group.name, "group_id": group.id, "members": entries}, text)
