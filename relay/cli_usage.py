"""``llmcluster-relay usage`` and ``ledger``: who used what, who gave what.

Both read the database only (no audit record). ``--format table`` (the default) is for
people, ``csv`` for spreadsheets, ``json`` (or the global ``--json``) prints one object.
The numbers come from :mod:`relay.reports`, which the admin API shares.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from relay import reports
from relay.cli_common import CliError, Result, group_named, iso, table
from storage.base import Store

FORMATS = ("table", "csv", "json")


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return reports.parse_when(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().rstrip("\n").split("\n")


def _render(
    data: dict[str, Any], fmt: str, headers: list[str], rows: list[list[Any]], empty: str
) -> Result:
    if fmt == "json":
        return Result(data, [json.dumps(data, indent=2)])
    if fmt == "csv":
        return Result(data, _csv(headers, rows))
    return Result(data, table(headers, [[str(c) for c in r] for r in rows], empty))


def _window(since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return {"since": iso(since), "until": iso(until)}


async def cmd_usage(store: Store, args: argparse.Namespace) -> Result:
    """Requests and tokens per key, user, model or node of a group over a window."""
    group = await group_named(store, args.group)
    since, until = _when(args.since), _when(args.until)
    rows = await reports.usage_report(store, group.id, by=args.by, since=since, until=until)
    data = {
        "group": group.name,
        "by": args.by,
        **_window(since, until),
        "rows": [
            {
                "id": r.key,
                "name": r.name,
                "requests": r.requests,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "total_tokens": r.total_tokens,
            }
            for r in rows
        ],
    }
    headers = [args.by, "requests", "prompt_tokens", "completion_tokens", "total_tokens"]
    body = [
        [r.name, r.requests, r.prompt_tokens, r.completion_tokens, r.total_tokens] for r in rows
    ]
    return _render(data, args.format, headers, body, f"No usage in group {group.name!r} then.")


async def cmd_ledger(store: Store, args: argparse.Namespace) -> Result:
    """Per member: tokens their nodes served to others vs tokens they consumed."""
    group = await group_named(store, args.group)
    since, until = _when(args.since), _when(args.until)
    book = await reports.ledger(store, group.id, since=since, until=until)
    data = {
        "group": group.name,
        **_window(since, until),
        "members": [
            {
                "user_id": e.user_id,
                "user": e.name,
                "served_to_others": e.served_to_others,
                "consumed_from_others": e.consumed_from_others,
                "balance": e.balance,
                "self_served": e.self_served,
                "requests_served": e.requests_served,
                "requests_consumed": e.requests_consumed,
            }
            for e in book.entries
        ],
        "served_total": book.served_total,
        "consumed_total": book.consumed_total,
        "unattributed_tokens": book.unattributed_tokens,
    }
    headers = ["user", "served_to_others", "consumed_from_others", "balance", "self_served"]
    body = [
        [e.name, e.served_to_others, e.consumed_from_others, f"{e.balance:+d}", e.self_served]
        for e in book.entries
    ]
    result = _render(data, args.format, headers, body, f"No members in group {group.name!r}.")
    if args.format == "table" and book.entries:
        result.text.append(
            f"Served {book.served_total} tokens to others, consumed {book.consumed_total}"
            f" from others ({book.unattributed_tokens} from nodes no longer known)."
        )
    return result


def _format(args: argparse.Namespace) -> None:
    if args.json:
        args.format = "json"


def add_commands(
    sub: Any, command: Callable[..., argparse.ArgumentParser], family: Callable[..., Any]
) -> None:
    """Register ``usage`` and ``ledger`` (top-level commands) with the CLI's helpers."""
    del family

    def common(p: argparse.ArgumentParser, since: str) -> None:
        p.add_argument("--group", required=True)
        p.add_argument("--since", default=since, help=f"24h, 7d, 30m or ISO time ({since})")
        p.add_argument("--until", help="end of the window (default: now)")
        p.add_argument("--format", choices=FORMATS, default="table")

    async def usage(store: Store, args: argparse.Namespace) -> Result:
        _format(args)
        return await cmd_usage(store, args)

    async def ledger(store: Store, args: argparse.Namespace) -> Result:
        _format(args)
        return await cmd_ledger(store, args)

    p = command(sub, "usage", "requests and tokens of a group over a window", usage)
    common(p, "24h")
    p.add_argument("--by", choices=list(reports.REPORT_GROUPINGS), default="user")
    common(command(sub, "ledger", "tokens served to and consumed from others", ledger), "7d")
