"""``llmcluster-relay limits ...`` and ``alias ...``: rate limits and model aliases.

Limits apply per group: to the group as a whole (no subject flag), to each key and user
without limits of their own (``--default``), to one member (``--user NAME``) or to one
API key (``--key ID``). ``limits set`` changes only the values it is given (``none``
clears one); a relay picks a change up within ``limits_cache_ttl_s``. Every change is
audited; ``--json`` prints one object.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from relay.cli_common import CliError, Result, actor, group_named, iso, short_time, table
from storage.accounting import LimitScope, RateLimit
from storage.base import Group, Store

VALUE_FIELDS = (("rpm", "rpm"), ("tpm", "tpm"), ("concurrent", "max_concurrent"))


def limit_value(text: str) -> int | None:
    """An argparse type: a positive integer, or ``none`` to clear the value."""
    if text.strip().lower() in ("none", "unlimited", "-"):
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'none', got {text!r}")
    return value


async def _subject(
    store: Store, group: Group, args: argparse.Namespace
) -> tuple[LimitScope, str, str]:
    """(scope, subject id, words for people) named by the subject flags."""
    if args.key is not None:
        key = await store.get_api_key(args.key)
        if key is None or key.group_id != group.id:
            raise CliError(f"no API key with id {args.key!r} in group {group.name!r}")
        return LimitScope.KEY, key.id, f"key {key.name!r} ({key.id})"
    if args.user is not None:
        user = await store.get_user_by_name(args.user)
        if user is None or await store.get_membership(group.id, user.id) is None:
            raise CliError(f"no member named {args.user!r} in group {group.name!r}")
        return LimitScope.USER, user.id, f"user {user.name!r}"
    if args.default:
        return LimitScope.DEFAULT, group.id, "every key and user without their own"
    return LimitScope.GROUP, group.id, "the group as a whole"


def _shown(value: int | None) -> str:
    return "-" if value is None else str(value)


def _limit_json(row: RateLimit, name: str) -> dict[str, Any]:
    return {
        "scope": row.scope.value,
        "subject_id": row.subject_id,
        "subject": name,
        "rpm": row.rpm,
        "tpm": row.tpm,
        "max_concurrent": row.max_concurrent,
        "updated_at": iso(row.updated_at),
    }


async def cmd_limits_set(store: Store, args: argparse.Namespace) -> Result:
    """Create or change one limits row, keeping the values not given."""
    given = {f: getattr(args, a) for a, f in VALUE_FIELDS if getattr(args, a) is not _UNSET}
    if not given:
        raise CliError("give at least one of --rpm, --tpm, --concurrent")
    group = await group_named(store, args.group)
    scope, subject, words = await _subject(store, group, args)
    rows = await store.list_rate_limits(group.id)
    current = next((r for r in rows if (r.scope, r.subject_id) == (scope, subject)), None)
    values: dict[str, int | None] = {
        f: getattr(current, f) if current is not None else None for _, f in VALUE_FIELDS
    }
    values.update(given)
    row = await store.set_rate_limit(group.id, scope, subject, **values)
    detail = " ".join(f"{f}={_shown(v)}" for f, v in values.items())
    await store.audit(actor(), "limits.set", f"{group.id}:{scope.value}:{subject}", detail)
    data = {"group": group.name, **_limit_json(row, words)}
    text = [
        f"Limits for {words} in group {group.name!r}: rpm {_shown(row.rpm)},"
        f" tpm {_shown(row.tpm)}, concurrent {_shown(row.max_concurrent)} ('-' = not set)."
    ]
    return Result(data, text)


async def _subject_names(store: Store, group: Group) -> dict[tuple[LimitScope, str], str]:
    names: dict[tuple[LimitScope, str], str] = {
        (LimitScope.GROUP, group.id): "(group)",
        (LimitScope.DEFAULT, group.id): "(default)",
    }
    for key in await store.list_api_keys(group_id=group.id):
        names[(LimitScope.KEY, key.id)] = f"{key.name} ({key.id})"
    users = {u.id: u.name for u in await store.list_users()}
    for member in await store.list_members(group.id):
        names[(LimitScope.USER, member.user_id)] = users.get(member.user_id, member.user_id)
    return names


async def cmd_limits_list(store: Store, args: argparse.Namespace) -> Result:
    """The group's limits, most general first."""
    group = await group_named(store, args.group)
    rows = await store.list_rate_limits(group.id)
    names = await _subject_names(store, group)
    listed = [(r, names.get((r.scope, r.subject_id), r.subject_id)) for r in rows]
    data = {"group": group.name, "limits": [_limit_json(r, n) for r, n in listed]}
    text = table(
        ["scope", "subject", "rpm", "tpm", "concurrent", "updated"],
        [
            [
                r.scope.value,
                n,
                _shown(r.rpm),
                _shown(r.tpm),
                _shown(r.max_concurrent),
                short_time(r.updated_at),
            ]
            for r, n in listed
        ],
        f"No limits in group {group.name!r}: nothing is limited.",
    )
    return Result(data, text)


async def cmd_limits_clear(store: Store, args: argparse.Namespace) -> Result:
    """Delete one limits row (its subject falls back to the defaults)."""
    group = await group_named(store, args.group)
    scope, subject, words = await _subject(store, group, args)
    if not await store.delete_rate_limit(group.id, scope, subject):
        raise CliError(f"no limits set for {words} in group {group.name!r}")
    await store.audit(actor(), "limits.clear", f"{group.id}:{scope.value}:{subject}")
    data = {"group": group.name, "scope": scope.value, "subject_id": subject, "cleared": True}
    return Result(data, [f"Cleared the limits for {words} in group {group.name!r}."])


async def cmd_alias_set(store: Store, args: argparse.Namespace) -> Result:
    """Point an alias at one or more backend models (replacing its targets)."""
    group = await group_named(store, args.group)
    try:
        alias = await store.set_alias(group.id, args.alias, tuple(args.targets))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    await store.audit(actor(), "alias.set", f"{group.id}:{alias.alias}", " ".join(alias.targets))
    data = {"group": group.name, "alias": alias.alias, "targets": list(alias.targets)}
    return Result(
        data, [f"Alias {alias.alias!r} in group {group.name!r} -> {', '.join(alias.targets)}."]
    )


async def cmd_alias_list(store: Store, args: argparse.Namespace) -> Result:
    group = await group_named(store, args.group)
    aliases = await store.list_aliases(group.id)
    data = {
        "group": group.name,
        "aliases": [
            {"alias": a.alias, "targets": list(a.targets), "created_at": iso(a.created_at)}
            for a in aliases
        ],
    }
    text = table(
        ["alias", "targets", "created"],
        [[a.alias, ", ".join(a.targets), short_time(a.created_at)] for a in aliases],
        f"No aliases in group {group.name!r}.",
    )
    return Result(data, text)


async def cmd_alias_remove(store: Store, args: argparse.Namespace) -> Result:
    group = await group_named(store, args.group)
    if not await store.delete_alias(group.id, args.alias):
        raise CliError(f"no alias {args.alias!r} in group {group.name!r}")
    await store.audit(actor(), "alias.remove", f"{group.id}:{args.alias}")
    data = {"group": group.name, "alias": args.alias, "removed": True}
    return Result(data, [f"Removed alias {args.alias!r} from group {group.name!r}."])


_UNSET: Any = object()


def add_commands(
    sub: Any, command: Callable[..., argparse.ArgumentParser], family: Callable[..., Any]
) -> None:
    """Register ``limits`` and ``alias`` with the CLI's parser helpers."""
    del sub
    limits = family("limits", "rate limits (per key, per user, per group)")

    def subject_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--group", required=True)
        who = p.add_mutually_exclusive_group()
        who.add_argument("--key", metavar="ID", help="one API key (by id)")
        who.add_argument("--user", metavar="NAME", help="one member, over all their keys")
        who.add_argument("--default", action="store_true", help="keys and users without their own")

    p = command(limits, "set", "set limits (unchanged values are kept)", cmd_limits_set)
    subject_flags(p)
    p.add_argument("--rpm", type=limit_value, default=_UNSET, help="requests per minute, or none")
    p.add_argument("--tpm", type=limit_value, default=_UNSET, help="tokens per minute, or none")
    p.add_argument(
        "--concurrent", type=limit_value, default=_UNSET, help="requests at once, or none"
    )
    command(limits, "list", "list a group's limits", cmd_limits_list).add_argument(
        "--group", required=True
    )
    subject_flags(command(limits, "clear", "remove one subject's limits", cmd_limits_clear))

    aliases = family("alias", "model aliases")
    p = command(aliases, "set", "point an alias at backend models", cmd_alias_set)
    p.add_argument("--group", required=True)
    p.add_argument("alias")
    p.add_argument("targets", nargs="+", metavar="TARGET")
    command(aliases, "list", "list a group's aliases", cmd_alias_list).add_argument(
        "--group", required=True
    )
    p = command(aliases, "remove", "remove an alias", cmd_alias_remove)
    p.add_argument("--group", required=True)
    p.add_argument("alias")
