"""Usage reports and the mutual-aid ledger (relay.reports) on a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from relay import reports
from storage import Role, Store, UsageRecord, open_store

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path}/reports.db")
    yield opened
    await opened.close()


@dataclass
class Three:
    group: str
    users: dict[str, str]  # name -> id
    nodes: dict[str, str]  # owner name -> node id
    keys: dict[str, str]  # owner name -> key id


async def three_members(store: Store) -> Three:
    group = await store.create_group("friends")
    three = Three(group.id, {}, {}, {})
    for name in ("ann", "bob", "cat"):
        user = await store.create_user(name)
        await store.add_member(group.id, user.id, Role.MEMBER)
        node = await store.create_node(
            name=f"{name}-rig", group_id=group.id, user_id=user.id, token_hash=f"t-{name}"
        )
        key = await store.create_api_key(
            prefix="p", key_hash=f"h-{name}", user_id=user.id, group_id=group.id, name=f"{name}-k"
        )
        three.users[name], three.nodes[name], three.keys[name] = user.id, node.id, key.id
    return three


def use(
    t: Three, rid: str, consumer: str, provider: str | None, tokens: tuple[int, int], **kw: object
) -> UsageRecord:
    values: dict[str, object] = {
        "request_id": rid,
        "time": T0,
        "key_id": t.keys[consumer],
        "user_id": t.users[consumer],
        "group_id": t.group,
        "node_id": t.nodes[provider] if provider else None,
        "model": "m",
        "prompt_tokens": tokens[0],
        "completion_tokens": tokens[1],
        "ttft_ms": 1.0,
        "duration_ms": 2.0,
        "status": 200,
    }
    values.update(kw)
    return UsageRecord(**values)  # type: ignore[arg-type]


async def test_the_ledger_of_three_members_balances(store: Store) -> None:
    t = await three_members(store)
    await store.record_usage(
        [
            use(t, "1", "ann", "bob", (10, 20)),
            use(t, "2", "ann", "cat", (5, 5)),
            use(t, "3", "bob", "cat", (1, 99)),
            use(t, "4", "cat", "ann", (40, 0)),
            use(t, "5", "cat", "cat", (7, 7)),  # her own node: not mutual aid
            use(t, "6", "bob", None, (0, 0), status=503),  # no node served it
            use(t, "7", "bob", "ann", (1, 1), node_id="forgotten-node"),
            use(t, "8", "ann", "bob", (1000, 0), time=T0 - timedelta(days=30)),
        ]
    )
    book = await reports.ledger(store, t.group, since=T0 - timedelta(days=7))
    by_name = {e.name: e for e in book.entries}
    assert set(by_name) == {"ann", "bob", "cat"}
    ann, bob, cat = by_name["ann"], by_name["bob"], by_name["cat"]
    assert (ann.served_to_others, ann.consumed_from_others, ann.balance) == (40, 40, 0)
    assert (bob.served_to_others, bob.consumed_from_others, bob.balance) == (30, 100, -70)
    assert (cat.served_to_others, cat.consumed_from_others, cat.balance) == (110, 40, 70)
    assert cat.self_served == 14 and (cat.requests_served, cat.requests_consumed) == (2, 1)
    assert book.served_total == book.consumed_total == 180
    assert sum(e.balance for e in book.entries) == 0
    assert book.unattributed_tokens == 2
    assert [e.name for e in book.entries] == ["cat", "ann", "bob"]  # most generous first


async def test_a_former_member_still_appears(store: Store) -> None:
    t = await three_members(store)
    await store.record_usage([use(t, "1", "ann", "bob", (3, 4))])
    await store.remove_member(t.group, t.users["bob"])
    book = await reports.ledger(store, t.group)
    assert {e.name: e.balance for e in book.entries} == {"ann": -7, "bob": 7, "cat": 0}


async def test_usage_report_by_each_grouping(store: Store) -> None:
    t = await three_members(store)
    await store.record_usage(
        [
            use(t, "1", "ann", "bob", (10, 20), model="llama"),
            use(t, "2", "ann", "cat", (1, 1), model="qwen"),
            use(t, "3", "bob", "cat", (5, 5), model="llama"),
        ]
    )
    by_user = await reports.usage_report(store, t.group, by="user")
    assert [(r.name, r.requests, r.total_tokens) for r in by_user] == [
        ("ann", 2, 32),
        ("bob", 1, 10),
    ]
    by_key = await reports.usage_report(store, t.group, by="key")
    assert [r.name for r in by_key] == ["ann-k", "bob-k"]
    by_node = await reports.usage_report(store, t.group, by="node")
    assert [(r.name, r.total_tokens) for r in by_node] == [("bob-rig", 30), ("cat-rig", 12)]
    by_model = await reports.usage_report(store, t.group, by="model")
    assert [(r.name, r.prompt_tokens, r.completion_tokens) for r in by_model] == [
        ("llama", 15, 25),
        ("qwen", 1, 1),
    ]
    assert await reports.usage_report(store, t.group, since=T0 + timedelta(hours=1)) == []
    with pytest.raises(ValueError, match="cannot report usage by"):
        await reports.usage_report(store, t.group, by="group")


def test_parse_when() -> None:
    now = datetime(2025, 3, 2, tzinfo=UTC)
    assert reports.parse_when("24h", now=now) == now - timedelta(hours=24)
    assert reports.parse_when("7d", now=now) == now - timedelta(days=7)
    assert reports.parse_when("30m", now=now) == now - timedelta(minutes=30)
    assert reports.parse_when("1.5h", now=now) == now - timedelta(minutes=90)
    assert reports.parse_when("2025-03-01") == datetime(2025, 3, 1, tzinfo=UTC)
    assert reports.parse_when("2025-03-01T09:00:00+09:00") == datetime(2025, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="24h, 7d"):
        reports.parse_when("yesterday")
