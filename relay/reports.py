"""Usage reports and the mutual-aid ledger, for the CLI and the admin API alike.

Plain async functions over a :class:`~storage.Store`, without a web framework, so the
admin API's handlers and ``llmcluster-relay usage``/``ledger`` share them:

* :func:`usage_report` - requests and tokens per key, user, model or node of a group over
  a time window, with names resolved;
* :func:`ledger` - per member: tokens their nodes served to *other* members vs tokens
  they consumed from other members' nodes, and the balance. Over a group the served and
  consumed totals are equal (every token served to someone was consumed by someone);
  tokens of nodes the store no longer knows are reported apart as ``unattributed``;
* :func:`parse_when` - ``"24h"``, ``"7d"``, ``"30m"`` (ago) or an ISO-8601 time.

Everything reads only (safe to cancel).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage import Store

#: ``by`` values of :func:`usage_report` and the usage column each groups on.
REPORT_GROUPINGS = {"key": "key_id", "user": "user_id", "model": "model", "node": "node_id"}

_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """A point in time: ``"<n><s|m|h|d|w>"`` before ``now`` or an ISO-8601 date/time
    (UTC when it names no zone). ``ValueError`` with a readable message otherwise."""
    value = text.strip()
    match = _AGO.fullmatch(value)
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"expected a duration like 24h, 7d, 30m or an ISO-8601 time, got {text!r}"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One line of a usage report: ``key`` is the id (or model), ``name`` what to show."""

    key: str | None
    name: str
    requests: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


async def _names(store: Store, group_id: str, by: str) -> dict[str, str]:
    if by == "key":
        return {k.id: k.name for k in await store.list_api_keys(group_id=group_id)}
    if by == "node":
        return {n.id: n.name for n in await store.list_nodes(group_id=group_id)}
    if by == "user":
        return {u.id: u.name for u in await store.list_users()}
    return {}


async def usage_report(
    store: Store,
    group_id: str,
    *,
    by: str = "user",
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[UsageRow]:
    """Usage of ``group_id`` in ``[since, until)`` grouped ``by`` key, user, model or
    node, largest total first. ``ValueError`` for another ``by``."""
    if by not in REPORT_GROUPINGS:
        raise ValueError(f"cannot report usage by {by!r}; expected one of {list(REPORT_GROUPINGS)}")
    totals = await store.usage_totals(
        REPORT_GROUPINGS[by], since=since, until=until, group_id=group_id
    )
    names = await _names(store, group_id, by)
    return [
        UsageRow(
            t.key,
            names.get(t.key, t.key) if t.key is not None else "-",
            t.requests,
            t.prompt_tokens,
            t.completion_tokens,
        )
        for t in totals
    ]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One member's side of the ledger (tokens are prompt + completion)."""

    user_id: str
    name: str
    served_to_others: int
    consumed_from_others: int
    self_served: int
    requests_served: int
    requests_consumed: int

    @property
    def balance(self) -> int:
        """Positive: gave more than took."""
        return self.served_to_others - self.consumed_from_others


@dataclass(frozen=True, slots=True)
class Ledger:
    """The mutual-aid ledger of one group over ``[since, until)``."""

    group_id: str
    since: datetime | None
    until: datetime | None
    entries: tuple[LedgerEntry, ...]
    unattributed_tokens: int

    @property
    def served_total(self) -> int:
        return sum(e.served_to_others for e in self.entries)

    @property
    def consumed_total(self) -> int:
        return sum(e.consumed_from_others for e in self.entries)


async def ledger(
    store: Store,
    group_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Ledger:
    """The ledger of ``group_id``: one entry per member (and per former member who shows
    up in the window), most generous first, then by name."""
    flows = await store.usage_flows(group_id, since=since, until=until)
    users = {u.id: u.name for u in await store.list_users()}
    sums: dict[str, list[int]] = {
        m.user_id: [0, 0, 0, 0, 0] for m in await store.list_members(group_id)
    }
    unattributed = 0
    for flow in flows:
        consumer, provider = flow.consumer_user_id, flow.provider_user_id
        if consumer is None or provider is None:
            unattributed += flow.total_tokens
            continue
        for user in (consumer, provider):
            sums.setdefault(user, [0, 0, 0, 0, 0])
        if consumer == provider:
            sums[consumer][2] += flow.total_tokens
            continue
        sums[provider][0] += flow.total_tokens
        sums[provider][3] += flow.requests
        sums[consumer][1] += flow.total_tokens
        sums[consumer][4] += flow.requests
    entries = [LedgerEntry(user, users.get(user, user), *values) for user, values in sums.items()]
    entries.sort(key=lambda e: (-e.balance, e.name))
    return Ledger(group_id, since, until, tuple(entries), unattributed)
