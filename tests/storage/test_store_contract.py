"""The :class:`storage.Store` contract, run against every backend.

Each test gets a fresh migrated store (see ``conftest.py``); PostgreSQL cases are
skipped unless ``LLMCLUSTER_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sqlite3
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from storage import (
    USAGE_GROUPINGS,
    Conflict,
    NotFound,
    Role,
    Store,
    UsageRecord,
    UsageTotal,
    open_store,
)
from storage._common import load_migrations, redact_url

from .conftest import reset_pg_schema

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATEST = max(m.version for m in load_migrations("sqlite"))


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


def usage(request_id: str, minutes: float = 0, **fields: object) -> UsageRecord:
    """A usage record ``minutes`` after T0; ``fields`` override the defaults."""
    values: dict[str, object] = {
        "request_id": request_id,
        "time": T0 + timedelta(minutes=minutes),
        "key_id": "k1",
        "user_id": "u1",
        "group_id": "g1",
        "node_id": "n1",
        "model": "llama",
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "ttft_ms": 12.5,
        "duration_ms": 250.0,
        "status": 200,
    }
    values.update(fields)
    return UsageRecord(**values)  # type: ignore[arg-type]


async def make_owner(store: Store, user: str = "alice", group: str = "team") -> tuple[str, str]:
    """A user and a group it owns; returns (user_id, group_id)."""
    u = await store.create_user(user)
    g = await store.create_group(group)
    await store.add_member(g.id, u.id, Role.OWNER)
    return u.id, g.id


# -- lifecycle ----------------------------------------------------------------------------


async def test_migrate_is_idempotent(store: Store, db_url: str) -> None:
    assert await store.migrate() == LATEST
    assert await store.migrate() == LATEST
    again = await open_store(db_url)
    try:
        assert await again.migrate() == LATEST
    finally:
        await again.close()


async def test_concurrent_opens_migrate_once(empty_db_url: str) -> None:
    stores = await asyncio.gather(*(open_store(empty_db_url) for _ in range(4)))
    try:
        assert [await s.migrate() for s in stores] == [LATEST] * 4
        await stores[0].create_user("x")
        assert [u.name for u in await stores[3].list_users()] == ["x"]
    finally:
        for s in stores:
            await s.close()


def test_both_backends_ship_the_same_migration_versions() -> None:
    versions = {b: [m.version for m in load_migrations(b)] for b in ("sqlite", "postgres")}
    assert versions["sqlite"] == versions["postgres"] == list(range(1, LATEST + 1))


async def test_ping(store: Store) -> None:
    await store.ping()


async def test_data_survives_reopen(store: Store, db_url: str) -> None:
    user = await store.create_user("alice", is_operator=True)
    await store.close()
    reopened = await open_store(db_url)
    try:
        assert await reopened.get_user(user.id) == user
    finally:
        await reopened.close()


# -- secrets ---------------------------------------------------------------------------------


async def test_secret_get_or_create_returns_first_value(store: Store) -> None:
    assert await store.get_or_create_secret("jwt", b"\x00first") == b"\x00first"
    assert await store.get_or_create_secret("jwt", b"second") == b"\x00first"
    assert await store.get_or_create_secret("other", b"x" * 64) == b"x" * 64


async def test_concurrent_secret_creation_agrees(store: Store) -> None:
    values = await asyncio.gather(
        *(store.get_or_create_secret("jwt", bytes([i]) * 32) for i in range(8))
    )
    assert len(set(values)) == 1
    assert isinstance(values[0], bytes)


# -- users -----------------------------------------------------------------------------------


async def test_create_and_get_user(store: Store) -> None:
    user = await store.create_user("alice", is_operator=True)
    assert user.name == "alice" and user.is_operator
    assert_utc(user.created_at)
    assert await store.get_user(user.id) == user
    assert await store.get_user_by_name("alice") == user
    plain = await store.create_user("bob")
    assert plain.is_operator is False
    assert (await store.get_user(plain.id)) == plain
    assert await store.get_user("missing") is None
    assert await store.get_user_by_name("nobody") is None


async def test_duplicate_user_name_conflicts(store: Store) -> None:
    await store.create_user("alice")
    with pytest.raises(Conflict):
        await store.create_user("alice")
    assert len(await store.list_users()) == 1


async def test_list_users_ordered_by_name(store: Store) -> None:
    assert await store.list_users() == []
    for name in ["carol", "alice", "Zed", "bob"]:
        await store.create_user(name)
    users = await store.list_users()
    assert [u.name for u in users] == ["Zed", "alice", "bob", "carol"]  # code point order
    for u in users:
        assert_utc(u.created_at)


# -- groups ----------------------------------------------------------------------------------


async def test_create_get_list_groups(store: Store) -> None:
    b = await store.create_group("beta")
    a = await store.create_group("alpha")
    assert_utc(a.created_at)
    assert await store.get_group(a.id) == a
    assert await store.get_group_by_name("beta") == b
    assert await store.get_group("missing") is None
    assert await store.get_group_by_name("missing") is None
    assert await store.list_groups() == [a, b]
    with pytest.raises(Conflict):
        await store.create_group("alpha")


async def test_rename_group(store: Store) -> None:
    a = await store.create_group("alpha")
    await store.create_group("beta")
    renamed = await store.rename_group(a.id, "gamma")
    assert (renamed.id, renamed.name, renamed.created_at) == (a.id, "gamma", a.created_at)
    assert await store.get_group_by_name("alpha") is None
    assert await store.get_group_by_name("gamma") == renamed
    assert await store.rename_group(a.id, "gamma") == renamed  # to its own name: fine
    with pytest.raises(Conflict):
        await store.rename_group(a.id, "beta")
    with pytest.raises(NotFound):
        await store.rename_group("missing", "delta")
    assert [g.name for g in await store.list_groups()] == ["beta", "gamma"]


async def test_delete_group_cascades_but_keeps_usage(store: Store) -> None:
    user_id, group_id = await make_owner(store)
    _, other_id = await make_owner(store, "bob", "other")
    key = await store.create_api_key(
        prefix="sk-a", key_hash="h-a", user_id=user_id, group_id=group_id, name="k"
    )
    other_key = await store.create_api_key(
        prefix="sk-b", key_hash="h-b", user_id=user_id, group_id=other_id, name="k"
    )
    node = await store.create_node(name="rig", group_id=group_id, user_id=user_id, token_hash="t")
    await store.record_usage([usage("r1", group_id=group_id, key_id=key.id, node_id=node.id)])

    assert await store.delete_group(group_id) is True
    assert await store.delete_group(group_id) is False
    assert await store.get_group(group_id) is None
    assert await store.get_membership(group_id, user_id) is None
    assert await store.list_members(group_id) == []
    assert await store.get_api_key(key.id) is None
    assert await store.get_api_key_by_hash("h-a") is None
    assert await store.list_api_keys(group_id=group_id) == []
    assert await store.get_node(node.id) is None
    assert await store.list_nodes(group_id=group_id) == []
    # History outlives the group; the user and the other group are untouched.
    [record] = await store.list_usage()
    assert (record.group_id, record.key_id, record.node_id) == (group_id, key.id, node.id)
    assert await store.get_user(user_id) is not None
    assert await store.list_api_keys() == [other_key]
    assert [m.group_id for m in await store.list_memberships_of_user(user_id)] == []
    assert await store.delete_group("missing") is False


# -- memberships -----------------------------------------------------------------------------


async def test_memberships(store: Store) -> None:
    alice = await store.create_user("alice")
    bob = await store.create_user("bob")
    team = await store.create_group("team")
    other = await store.create_group("other")

    m1 = await store.add_member(team.id, alice.id, Role.OWNER)
    assert (m1.group_id, m1.user_id, m1.role) == (team.id, alice.id, Role.OWNER)
    assert isinstance(m1.role, Role)
    assert_utc(m1.created_at)
    m2 = await store.add_member(team.id, bob.id, Role.MEMBER)
    m3 = await store.add_member(other.id, alice.id, Role.ADMIN)

    assert await store.get_membership(team.id, alice.id) == m1
    assert await store.get_membership(other.id, bob.id) is None
    assert await store.list_members(team.id) == [m1, m2]
    assert await store.list_memberships_of_user(alice.id) == [m1, m3]

    with pytest.raises(Conflict):
        await store.add_member(team.id, bob.id, Role.ADMIN)
    with pytest.raises(NotFound, match="group"):
        await store.add_member("missing", bob.id, Role.MEMBER)
    with pytest.raises(NotFound, match="user"):
        await store.add_member(team.id, "missing", Role.MEMBER)

    promoted = await store.set_member_role(team.id, bob.id, Role.ADMIN)
    assert promoted == m2.__class__(team.id, bob.id, Role.ADMIN, m2.created_at)
    assert (await store.get_membership(team.id, bob.id)) == promoted
    with pytest.raises(NotFound):
        await store.set_member_role(other.id, bob.id, Role.ADMIN)

    assert await store.remove_member(team.id, bob.id) is True
    assert await store.remove_member(team.id, bob.id) is False
    assert await store.get_membership(team.id, bob.id) is None
    assert await store.list_members(team.id) == [m1]


async def test_list_members_in_creation_order(store: Store) -> None:
    group = await store.create_group("g")
    names = [f"user{i:02d}" for i in range(12)]
    random.Random(4).shuffle(names)
    for name in names:
        user = await store.create_user(name)
        await store.add_member(group.id, user.id, Role.MEMBER)
    members = await store.list_members(group.id)
    users = {u.id: u.name for u in await store.list_users()}
    assert [users[m.user_id] for m in members] == names


# -- API keys --------------------------------------------------------------------------------


async def test_api_keys(store: Store) -> None:
    user_id, group_id = await make_owner(store)
    bob = await store.create_user("bob")
    other = await store.create_group("other")
    k1 = await store.create_api_key(
        prefix="sk-11", key_hash="h1", user_id=user_id, group_id=group_id, name="laptop"
    )
    assert (k1.prefix, k1.key_hash, k1.name, k1.revoked) == ("sk-11", "h1", "laptop", False)
    assert k1.last_used_at is None and k1.revoked_at is None
    assert_utc(k1.created_at)
    k2 = await store.create_api_key(
        prefix="sk-22", key_hash="h2", user_id=bob.id, group_id=group_id, name="ci"
    )
    k3 = await store.create_api_key(
        prefix="sk-33", key_hash="h3", user_id=user_id, group_id=other.id, name="x"
    )
    assert await store.get_api_key(k1.id) == k1
    assert await store.get_api_key_by_hash("h2") == k2
    assert await store.get_api_key("missing") is None
    assert await store.get_api_key_by_hash("missing") is None
    assert await store.list_api_keys() == [k1, k2, k3]
    assert await store.list_api_keys(group_id=group_id) == [k1, k2]
    assert await store.list_api_keys(user_id=user_id) == [k1, k3]
    assert await store.list_api_keys(group_id=group_id, user_id=bob.id) == [k2]
    assert await store.list_api_keys(group_id="missing") == []

    with pytest.raises(Conflict):
        await store.create_api_key(
            prefix="sk-11", key_hash="h1", user_id=bob.id, group_id=other.id, name="dup"
        )
    with pytest.raises(NotFound, match="group"):
        await store.create_api_key(
            prefix="p", key_hash="h9", user_id=user_id, group_id="missing", name="n"
        )
    with pytest.raises(NotFound, match="user"):
        await store.create_api_key(
            prefix="p", key_hash="h9", user_id="missing", group_id=group_id, name="n"
        )
    assert len(await store.list_api_keys()) == 3


async def test_revoke_api_key(store: Store) -> None:
    user_id, group_id = await make_owner(store)
    key = await store.create_api_key(
        prefix="sk", key_hash="h", user_id=user_id, group_id=group_id, name="n"
    )
    assert await store.revoke_api_key(key.id) is True
    revoked = await store.get_api_key(key.id)
    assert revoked is not None and revoked.revoked
    assert_utc(revoked.revoked_at)
    assert await store.revoke_api_key(key.id) is False  # already revoked
    assert await store.revoke_api_key("missing") is False
    assert await store.get_api_key_by_hash("h") == revoked  # revoked keys are still found
    assert await store.get_api_key(key.id) == revoked  # revoked_at did not move


async def test_touch_api_keys(store: Store) -> None:
    user_id, group_id = await make_owner(store)
    k1 = await store.create_api_key(
        prefix="a", key_hash="ha", user_id=user_id, group_id=group_id, name="a"
    )
    k2 = await store.create_api_key(
        prefix="b", key_hash="hb", user_id=user_id, group_id=group_id, name="b"
    )
    await store.touch_api_keys([])
    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
    await store.touch_api_keys([(k1.id, t1), ("missing", t2), (k1.id, T0), (k2.id, t2)])
    got1, got2 = await store.get_api_key(k1.id), await store.get_api_key(k2.id)
    assert got1 is not None and got1.last_used_at == t1  # the latest of the batch
    assert got2 is not None and got2.last_used_at == t2
    assert_utc(got1.last_used_at)
    await store.touch_api_keys([(k1.id, T0)])  # an older, late batch does not go back
    again = await store.get_api_key(k1.id)
    assert again is not None and again.last_used_at == t1
    paris = timezone(timedelta(hours=1))
    await store.touch_api_keys([(k1.id, datetime(2025, 3, 1, 14, 0, tzinfo=paris))])
    moved = await store.get_api_key(k1.id)
    assert moved is not None and moved.last_used_at == T0 + timedelta(hours=1)
    assert_utc(moved.last_used_at)
    with pytest.raises(ValueError, match="aware"):
        await store.touch_api_keys([(k1.id, datetime(2030, 1, 1))])


# -- nodes -----------------------------------------------------------------------------------


async def test_nodes(store: Store) -> None:
    user_id, group_id = await make_owner(store)
    _, other_id = await make_owner(store, "bob", "other")
    n1 = await store.create_node(name="rig", group_id=group_id, user_id=user_id, token_hash="t1")
    assert (n1.name, n1.group_id, n1.user_id, n1.token_hash) == ("rig", group_id, user_id, "t1")
    assert not n1.revoked and n1.revoked_at is None
    assert_utc(n1.created_at)
    n2 = await store.create_node(name="rig", group_id=other_id, user_id=user_id, token_hash="t2")
    n3 = await store.create_node(name="box", group_id=group_id, user_id=user_id, token_hash="t3")
    assert await store.get_node(n1.id) == n1
    assert await store.get_node_by_token_hash("t2") == n2
    assert await store.get_node("missing") is None
    assert await store.get_node_by_token_hash("missing") is None
    assert await store.list_nodes() == [n1, n2, n3]
    assert await store.list_nodes(group_id=group_id) == [n1, n3]

    with pytest.raises(Conflict):  # a live node of that name in the group
        await store.create_node(name="rig", group_id=group_id, user_id=user_id, token_hash="t4")
    with pytest.raises(Conflict):  # the same token
        await store.create_node(name="new", group_id=group_id, user_id=user_id, token_hash="t1")
    with pytest.raises(NotFound, match="group"):
        await store.create_node(name="x", group_id="missing", user_id=user_id, token_hash="t5")
    with pytest.raises(NotFound, match="user"):
        await store.create_node(name="x", group_id=group_id, user_id="missing", token_hash="t5")
    assert len(await store.list_nodes()) == 3


async def test_revoke_node_frees_its_name(store: Store) -> None:
    user_id, group_id = await make_owner(store)
    node = await store.create_node(name="rig", group_id=group_id, user_id=user_id, token_hash="t")
    assert await store.revoke_node(node.id) is True
    assert await store.revoke_node(node.id) is False
    assert await store.revoke_node("missing") is False
    revoked = await store.get_node_by_token_hash("t")
    assert revoked is not None and revoked.revoked
    assert_utc(revoked.revoked_at)
    fresh = await store.create_node(name="rig", group_id=group_id, user_id=user_id, token_hash="u")
    assert await store.list_nodes(group_id=group_id) == [revoked, fresh]
    with pytest.raises(Conflict):
        await store.create_node(name="rig", group_id=group_id, user_id=user_id, token_hash="v")


# -- usage -----------------------------------------------------------------------------------


async def test_record_and_list_usage(store: Store) -> None:
    await store.record_usage([])
    a = usage("a", 0)
    b = usage("b", 1, ttft_ms=None, status=502, error_code="upstream", estimated=True)
    c = usage("c", 2, key_id=None, user_id=None, group_id=None, node_id=None, duration_ms=0.25)
    await store.record_usage([a, b])
    await store.record_usage([c])
    listed = await store.list_usage()
    assert listed == [c, b, a]  # newest first, every field round-trips
    for record in listed:
        assert_utc(record.time)
    assert listed[1].estimated is True and listed[1].ttft_ms is None


async def test_duplicate_request_id_is_ignored(store: Store) -> None:
    first = usage("r1", 0, prompt_tokens=1)
    await store.record_usage([first, usage("r1", 5, prompt_tokens=999), usage("r2", 1)])
    await store.record_usage([usage("r2", 1), usage("r3", 2)])  # a retried flush
    listed = await store.list_usage()
    assert [r.request_id for r in listed] == ["r3", "r2", "r1"]
    assert listed[-1] == first
    [total] = await store.usage_totals("model")
    assert (total.requests, total.prompt_tokens) == (3, 1 + 10 + 10)


async def test_list_usage_filters(store: Store) -> None:
    await store.record_usage(
        [usage(f"r{i}", i, group_id="g1" if i % 2 else "g2") for i in range(10)]
    )
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=7)
    window = await store.list_usage(since=since, until=until)
    assert [r.request_id for r in window] == ["r6", "r5", "r4", "r3"]  # [since, until)
    assert [r.request_id for r in await store.list_usage(since=T0 + timedelta(minutes=8))] == [
        "r9",
        "r8",
    ]
    assert [r.request_id for r in await store.list_usage(until=T0 + timedelta(minutes=1))] == ["r0"]
    in_g1 = await store.list_usage(group_id="g1", since=since)
    assert [r.request_id for r in in_g1] == ["r9", "r7", "r5", "r3"]
    assert [r.request_id for r in await store.list_usage(limit=2)] == ["r9", "r8"]
    assert await store.list_usage(limit=0) == []
    assert await store.list_usage(group_id="none") == []
    with pytest.raises(ValueError):
        await store.list_usage(limit=-1)
    # A window given in another zone means the same instants.
    tz = timezone(timedelta(hours=-5))
    shifted = await store.list_usage(since=since.astimezone(tz), until=until.astimezone(tz))
    assert shifted == window


async def test_usage_times_are_normalised_to_utc(store: Store) -> None:
    tokyo = timezone(timedelta(hours=9))
    await store.record_usage([usage("r1", time=datetime(2025, 3, 1, 21, 0, tzinfo=tokyo))])
    [record] = await store.list_usage()
    assert record.time == T0
    assert_utc(record.time)
    with pytest.raises(ValueError, match="aware"):
        await store.record_usage([usage("r2", time=datetime(2025, 3, 1))])
    with pytest.raises(ValueError, match="aware"):
        await store.list_usage(since=datetime(2025, 3, 1))
    assert len(await store.list_usage()) == 1


def reference_totals(records: list[UsageRecord], by: str) -> list[UsageTotal]:
    sums: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in records:
        acc = sums[getattr(r, by)]
        acc[0] += 1
        acc[1] += r.prompt_tokens
        acc[2] += r.completion_tokens
    totals = [UsageTotal(key, *acc) for key, acc in sums.items()]
    return sorted(
        totals,
        key=lambda t: (-(t.prompt_tokens + t.completion_tokens), t.key is None, t.key or ""),
    )


@pytest.mark.parametrize("by", USAGE_GROUPINGS)
async def test_usage_totals_by_each_grouping(store: Store, by: str) -> None:
    rng = random.Random(by)
    records = [
        usage(
            f"r{i}",
            i,
            key_id=rng.choice(["k1", "k2", "k3", None]),
            user_id=rng.choice(["u1", "u2", None]),
            group_id=rng.choice(["g1", "g2", "g3"]),
            node_id=rng.choice(["n1", "n2", None]),
            model=rng.choice(["llama", "qwen", "Mistral"]),
            prompt_tokens=rng.randrange(0, 5000),
            completion_tokens=rng.randrange(0, 5000),
        )
        for i in range(60)
    ]
    await store.record_usage(records)
    assert await store.usage_totals(by) == reference_totals(records, by)
    since, until = T0 + timedelta(minutes=10), T0 + timedelta(minutes=40)
    windowed = [r for r in records if since <= r.time < until and r.group_id == "g2"]
    got = await store.usage_totals(by, since=since, until=until, group_id="g2")
    assert got == reference_totals(windowed, by)


async def test_usage_totals_order_and_empty(store: Store) -> None:
    assert await store.usage_totals("model") == []
    await store.record_usage(
        [
            usage("a", 0, model="small", prompt_tokens=1, completion_tokens=1),
            usage("b", 1, model="big", prompt_tokens=100, completion_tokens=0),
            usage("c", 2, model="big", prompt_tokens=0, completion_tokens=100),
            usage("d", 3, model="mid", prompt_tokens=50, completion_tokens=50),
        ]
    )
    assert await store.usage_totals("model") == [
        UsageTotal("big", 2, 100, 100),
        UsageTotal("mid", 1, 50, 50),
        UsageTotal("small", 1, 1, 1),
    ]
    assert await store.usage_totals("model", since=T0 + timedelta(hours=1)) == []


@pytest.mark.parametrize("by", ["time", "request_id", "", "model; DROP TABLE usage", "MODEL"])
async def test_usage_totals_rejects_unknown_grouping(store: Store, by: str) -> None:
    await store.record_usage([usage("r1")])
    with pytest.raises(ValueError, match="group usage by"):
        await store.usage_totals(by)
    assert len(await store.list_usage()) == 1


# -- audit -----------------------------------------------------------------------------------


async def test_audit_log_newest_first(store: Store) -> None:
    assert await store.list_audit() == []
    for i in range(5):
        await store.audit("alice", f"action{i}", f"target{i}", f"detail {i}" if i else "")
    entries = await store.list_audit()
    assert [e.action for e in entries] == [f"action{i}" for i in reversed(range(5))]
    assert [e.id for e in entries] == sorted((e.id for e in entries), reverse=True)
    oldest = entries[-1]
    assert (oldest.actor, oldest.target, oldest.detail) == ("alice", "target0", "")
    for e in entries:
        assert_utc(e.time)
    assert [e.action for e in await store.list_audit(limit=2)] == ["action4", "action3"]
    await store.audit("bob", "key.revoke", "k1")
    assert (await store.list_audit(limit=1))[0].detail == ""


# -- concurrency and cancellation -------------------------------------------------------------


async def test_concurrent_writes(store: Store) -> None:
    user_id, group_id = await make_owner(store)
    await asyncio.gather(
        *(store.create_user(f"user{i}") for i in range(20)),
        *(store.record_usage([usage(f"r{i}", i)]) for i in range(20)),
        *(
            store.create_api_key(
                prefix=f"p{i}", key_hash=f"h{i}", user_id=user_id, group_id=group_id, name="n"
            )
            for i in range(20)
        ),
        *(store.audit("a", "b", str(i)) for i in range(20)),
    )
    assert len(await store.list_users()) == 21
    assert len(await store.list_usage()) == 20
    assert len(await store.list_api_keys()) == 20
    assert len(await store.list_audit()) == 20


async def test_cancelled_writes_are_all_or_nothing(store: Store) -> None:
    user_id, group_id = await make_owner(store)
    tasks = []
    for i in range(24):
        tasks.append(
            asyncio.create_task(
                store.create_node(
                    name=f"n{i}", group_id=group_id, user_id=user_id, token_hash=f"t{i}"
                )
            )
        )
        for _ in range(i % 6):
            await asyncio.sleep(0)
        tasks[-1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await store.ping()
    nodes = {n.name: n for n in await store.list_nodes()}
    for i, result in enumerate(results):
        if not isinstance(result, BaseException):
            assert nodes[f"n{i}"] == result
        # Cancelled: the row is either wholly there or wholly absent; never a half row.
        if f"n{i}" in nodes:
            assert nodes[f"n{i}"].token_hash == f"t{i}"
    late = await store.create_node(name="late", group_id=group_id, user_id=user_id, token_hash="x")
    assert await store.get_node(late.id) == late


# -- open_store and backends ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root:hunter2@db.example:3306/relay",
        "redis://:hunter2@cache/0",
        "root:hunter2@db.example/relay",
        "user:hunter2@x://y",
    ],
)
async def test_unknown_scheme_is_rejected_without_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="scheme") as excinfo:
        await open_store(url)
    assert "hunter2" not in str(excinfo.value)
    if url.startswith("mysql"):
        assert "'mysql'" in str(excinfo.value)


def test_redact_url() -> None:
    assert redact_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact_url("sqlite:///data/x.db") == "sqlite:///data/x.db"


@pytest.mark.parametrize("url", ["sqlite://relay.db", "sqlite://", "sqlite:///"])
async def test_bad_sqlite_url(url: str) -> None:
    with pytest.raises(ValueError, match="path"):
        await open_store(url)


async def test_sqlite_relative_path_creates_parent_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite:///data/nested/relay.db")
    try:
        await store.create_user("alice")
    finally:
        await store.close()
    db = tmp_path / "data" / "nested" / "relay.db"
    assert db.is_file()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchall() == [(LATEST,)]


@pytest.mark.parametrize("url", ["sqlite://:memory:", "sqlite:///:memory:"])
async def test_sqlite_in_memory(url: str) -> None:
    store = await open_store(url)
    try:
        assert await store.migrate() == LATEST
        user = await store.create_user("alice")
        assert await store.list_users() == [user]
    finally:
        await store.close()


def test_sqlite_store_does_not_import_asyncpg(tmp_path: Path) -> None:
    script = (
        "import asyncio, sys, storage\n"
        "assert 'aiosqlite' not in sys.modules, 'import storage loaded aiosqlite'\n"
        "async def main():\n"
        "    store = await storage.open_store(sys.argv[1])\n"
        "    await store.create_user('alice')\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
        "assert 'aiosqlite' in sys.modules\n"
        "assert 'asyncpg' not in sys.modules, 'a SQLite store imported asyncpg'\n"
    )
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    result = subprocess.run(
        [sys.executable, "-c", script, url], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


async def test_schemas_match_across_backends(pg_database_url: str, tmp_path: Path) -> None:
    import asyncpg

    await reset_pg_schema(pg_database_url)
    for url in (pg_database_url, f"sqlite:///{tmp_path / 'x.db'}"):
        await (await open_store(url)).close()
    with sqlite3.connect(tmp_path / "x.db") as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        lite = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
        lite_idx = {
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            if not r[0].startswith("sqlite_")
        }
    pg = await asyncpg.connect(pg_database_url)
    try:
        rows = await pg.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        )
        idx = await pg.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            " AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'"
        )
    finally:
        await pg.close()
    post: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        post[row["table_name"]].append(row["column_name"])
    assert lite == dict(post)
    assert lite_idx == {r["indexname"] for r in idx}


async def test_postgres_scheme_alias(pg_database_url: str) -> None:
    store = await open_store("postgres://" + pg_database_url.split("://", 1)[1])
    try:
        assert await store.migrate() == LATEST
        await store.ping()
    finally:
        await store.close()


def test_sqlite_migration_splitter_respects_strings_comments_and_triggers() -> None:
    from storage.sqlite import split_statements

    script = (
        "-- a comment; with a semicolon\n"
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
        "    UPDATE t SET x = 'c;d';\n"
        "END;\n"
        "-- trailing comment\n"
    )
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with sqlite3.connect(":memory:") as conn:
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO t DEFAULT VALUES")
        assert conn.execute("SELECT x FROM t").fetchall() == [("c;d",)]


def test_utcnow_is_aware_and_strictly_increasing() -> None:
    from storage._common import utcnow

    times = [utcnow() for _ in range(2000)]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert_utc(times[0])
