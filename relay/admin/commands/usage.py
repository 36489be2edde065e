"""Admin commands that read: who am I, usage totals and series, the recent request feed;
and the group's model aliases.

Usage comes from :func:`relay.reports.usage_report` over the last hour, day or week,
grouped by key, user, model or node, for one group or every group the caller manages,
plus a coarse series of tokens over time for the console's chart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from relay.admin.commands.base import Ctx, Params, command
from relay.admin.errors import AdminError, bad_request
from relay.admin.views import request_view
from relay.reports import REPORT_GROUPINGS, usage_report
from storage import Group

WINDOWS = {
    "1h": (timedelta(hours=1), 12),
    "24h": (timedelta(days=1), 24),
    "7d": (timedelta(days=7), 28),
}
BY = tuple(REPORT_GROUPINGS)  # key, user, model, node


@command("me", mutates=False)
async def me(ctx: Ctx, params: Params) -> dict[str, Any]:
    return {"me": ctx.admin.describe()}


@command("requests.recent", mutates=False)
async def recent_requests(ctx: Ctx, params: Params) -> dict[str, Any]:
    """The last requests this relay finished (up to 200), of the caller's groups."""
    events = ctx.state.events.recent_requests
    return {"requests": [request_view(e) for e in events if ctx.admin.manages(e.get("group_id"))]}


async def _groups(ctx: Ctx, params: Params) -> list[Group] | None:
    """One group, or None for "all" (operator) or the caller's groups (group admin)."""
    if params.optional("group") is not None:
        return [await ctx.group(params)]
    if ctx.admin.is_operator:
        return None
    return [g for g in await ctx.state.store.list_groups() if ctx.admin.manages(g.id)]


async def _group_ids(ctx: Ctx, groups: list[Group] | None) -> list[str]:
    if groups is not None:
        return [g.id for g in groups]
    return [g.id for g in await ctx.state.store.list_groups()]


async def _rows(
    ctx: Ctx, by: str, group_ids: list[str], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Rows of :func:`relay.reports.usage_report`, summed over the groups."""
    merged: dict[str | None, dict[str, Any]] = {}
    for group_id in group_ids:
        report = await usage_report(ctx.state.store, group_id, by=by, since=since, until=until)
        for row in report:
            seen = merged.setdefault(
                row.key,
                {
                    "id": row.key,
                    "name": row.name,
                    "requests": 0,
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                },
            )
            seen["requests"] += row.requests
            seen["prompt_tokens"] += row.prompt_tokens
            seen["completion_tokens"] += row.completion_tokens
    rows = [
        {**r, "total_tokens": r["prompt_tokens"] + r["completion_tokens"]} for r in merged.values()
    ]
    rows.sort(key=lambda r: (-r["total_tokens"], str(r["name"])))
    return rows


async def _bucket_tokens(
    ctx: Ctx, groups: list[Group] | None, since: datetime, until: datetime
) -> int:
    store = ctx.state.store
    if groups is None:
        totals = await store.usage_totals("group_id", since=since, until=until)
    else:
        totals = [
            t
            for g in groups
            for t in await store.usage_totals("group_id", since=since, until=until, group_id=g.id)
        ]
    return sum(t.prompt_tokens + t.completion_tokens for t in totals)


@command("usage", mutates=False)
async def usage(ctx: Ctx, params: Params) -> dict[str, Any]:
    """Totals by ``by`` over ``window`` (1h, 24h, 7d), with a tokens-over-time series."""
    window = params.choice("window", tuple(WINDOWS), "24h")
    by = params.choice("by", BY, "key")
    groups = await _groups(ctx, params)
    span, buckets = WINDOWS[window]
    until = datetime.now(UTC)
    since = until - span
    rows = await _rows(ctx, by, await _group_ids(ctx, groups), since, until)
    step = span / buckets
    series = [
        await _bucket_tokens(ctx, groups, since + step * i, since + step * (i + 1))
        for i in range(buckets)
    ]
    return {
        "window": window,
        "by": by,
        "group_id": groups[0].id if groups is not None and len(groups) == 1 else None,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "rows": rows,
        "series": {"bucket_s": int(step.total_seconds()), "tokens": series},
    }


def _forget_aliases(ctx: Ctx, group_id: str) -> None:
    """Drop the request path's cached aliases of the group: the change applies at once."""
    ctx.state.aliases.forget(group_id)


def _alias_view(alias: Any) -> dict[str, Any]:
    return {
        "group_id": alias.group_id,
        "alias": alias.alias,
        "targets": list(alias.targets),
        "created_at": alias.created_at.isoformat(),
    }


@command("aliases.list", mutates=False)
async def list_aliases(ctx: Ctx, params: Params) -> dict[str, Any]:
    group = await ctx.group(params)
    aliases = await ctx.state.store.list_aliases(group.id)
    return {"group_id": group.id, "aliases": [_alias_view(a) for a in aliases]}


@command("alias.set")
async def set_alias(ctx: Ctx, params: Params) -> dict[str, Any]:
    """Create or replace ``alias`` -> ``targets`` (a list of model names, or one string)."""
    group = await ctx.group(params)
    alias = params.text("alias")
    raw = params.raw("targets")
    targets = [raw] if isinstance(raw, str) else raw
    if not (
        isinstance(targets, list)
        and targets
        and all(isinstance(t, str) and t.strip() for t in targets)
    ):
        raise bad_request("'targets' must be a model name or a list of them.", param="targets")
    saved = await ctx.state.store.set_alias(group.id, alias, tuple(t.strip() for t in targets))
    _forget_aliases(ctx, group.id)
    detail = f"alias={saved.alias} targets={','.join(saved.targets)}"
    await ctx.audit("alias.set", group.id, detail)
    return {"alias": _alias_view(saved)}


@command("alias.delete")
async def delete_alias(ctx: Ctx, params: Params) -> dict[str, Any]:
    group = await ctx.group(params)
    alias = params.text("alias")
    if not await ctx.state.store.delete_alias(group.id, alias):
        raise AdminError(
            404, f"Group {group.name!r} has no alias {alias!r}.", code="not_found", param="alias"
        )
    _forget_aliases(ctx, group.id)
    await ctx.audit("alias.delete", group.id, f"alias={alias}")
    return {"group_id": group.id, "alias": alias, "deleted": True}
