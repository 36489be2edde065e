"""The accounting part of the :class:`storage.Store` contract: rate limits, model aliases
and usage flows, run against every backend (see ``conftest.py``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage import LimitScope, NotFound, RateLimit, Role, Store, UsageFlow

from .test_store_contract import T0, assert_utc, make_owner, usage

# -- rate limits ---------------------------------------------------------------------------


async def test_rate_limits_set_list_replace_delete(store: Store) -> None:
    user_id, group_id = await make_owner(store)
    assert await store.list_rate_limits(group_id) == []
    key = await store.set_rate_limit(
        group_id, LimitScope.KEY, "k2", rpm=10, tpm=None, max_concurrent=2
    )
    assert (key.rpm, key.tpm, key.max_concurrent) == (10, None, 2)
    assert_utc(key.updated_at)
    await store.set_rate_limit(group_id, LimitScope.KEY, "k1", rpm=5, tpm=100, max_concurrent=None)
    await store.set_rate_limit(
        group_id, LimitScope.USER, user_id, rpm=None, tpm=1000, max_concurrent=None
    )
    default = await store.set_rate_limit(
        group_id, LimitScope.DEFAULT, group_id, rpm=60, tpm=None, max_concurrent=None
    )
    group = await store.set_rate_limit(
        group_id,
        "group",
        group_id,
        rpm=600,
        tpm=60000,
        max_concurrent=8,  # type: ignore[arg-type]
    )
    assert group.scope is LimitScope.GROUP
    listed = await store.list_rate_limits(group_id)
    assert [(r.scope, r.subject_id) for r in listed] == [
        (LimitScope.GROUP, group_id),
        (LimitScope.DEFAULT, group_id),
        (LimitScope.USER, user_id),
        (LimitScope.KEY, "k1"),
        (LimitScope.KEY, "k2"),
    ]
    assert listed[0] == group and listed[1] == default and listed[4] == key
    replaced = await store.set_rate_limit(
        group_id, LimitScope.KEY, "k2", rpm=None, tpm=50, max_concurrent=None
    )
    assert replaced.updated_at > key.updated_at
    after = await store.list_rate_limits(group_id)
    assert len(after) == 5 and after[4] == replaced
    assert await store.delete_rate_limit(group_id, LimitScope.KEY, "k2") is True
    assert await store.delete_rate_limit(group_id, LimitScope.KEY, "k2") is False
    assert len(await store.list_rate_limits(group_id)) == 4


@pytest.mark.parametrize(
    ("scope", "subject", "values", "match"),
    [
        ("key", "k1", {"rpm": 0}, "between 1 and"),
        ("key", "k1", {"tpm": -5}, "between 1 and"),
        ("key", "k1", {"max_concurrent": 2**31}, "between 1 and"),
        ("key", "k1", {"rpm": 1.5}, "integer"),
        ("key", "k1", {"rpm": True}, "integer"),
        ("key", "", {"rpm": 1}, "needs a subject"),
        ("group", "other", {"rpm": 1}, "subject must be its group"),
        ("default", "other", {"rpm": 1}, "subject must be its group"),
        ("everyone", "k1", {"rpm": 1}, "unknown limit scope"),
    ],
)
async def test_rate_limit_validation(
    store: Store, scope: str, subject: str, values: dict[str, object], match: str
) -> None:
    _, group_id = await make_owner(store)
    args = {"rpm": None, "tpm": None, "max_concurrent": None, **values}
    with pytest.raises(ValueError, match=match):
        await store.set_rate_limit(group_id, scope, subject, **args)  # type: ignore[arg-type]
    assert await store.list_rate_limits(group_id) == []


async def test_rate_limits_need_their_group_and_go_with_it(store: Store) -> None:
    _, group_id = await make_owner(store)
    with pytest.raises(NotFound, match="no group"):
        await store.set_rate_limit(
            "nope", LimitScope.KEY, "k", rpm=1, tpm=None, max_concurrent=None
        )
    await store.set_rate_limit(group_id, LimitScope.KEY, "k", rpm=1, tpm=None, max_concurrent=None)
    other = await store.create_group("other")
    await store.set_rate_limit(other.id, LimitScope.KEY, "k", rpm=2, tpm=None, max_concurrent=None)
    assert [r.rpm for r in await store.list_rate_limits(other.id)] == [2]
    assert await store.delete_group(group_id)
    assert await store.list_rate_limits(group_id) == []
    assert [r.rpm for r in await store.list_rate_limits(other.id)] == [2]


async def test_concurrent_limit_upserts_keep_one_row(store: Store) -> None:
    _, group_id = await make_owner(store)
    await asyncio.gather(
        *(
            store.set_rate_limit(
                group_id, LimitScope.KEY, "k", rpm=i + 1, tpm=None, max_concurrent=None
            )
            for i in range(10)
        )
    )
    [row] = await store.list_rate_limits(group_id)
    assert isinstance(row, RateLimit) and 1 <= (row.rpm or 0) <= 10


# -- model aliases -----------------------------------------------------------------------


async def test_aliases_set_list_replace_delete(store: Store) -> None:
    _, group_id = await make_owner(store)
    assert await store.list_aliases(group_id) == []
    fast = await store.set_alias(group_id, "fast", ("llama3:8b", "qwen2.5:7b", "llama3:8b"))
    assert fast.targets == ("llama3:8b", "qwen2.5:7b")  # duplicates dropped, order kept
    assert fast.group_id == group_id and fast.alias == "fast"
    assert_utc(fast.created_at)
    big = await store.set_alias(group_id, "Big", ("llama3:70b",))
    assert await store.list_aliases(group_id) == [big, fast]  # code point order
    replaced = await store.set_alias(group_id, "fast", ("phi3",))
    assert replaced.targets == ("phi3",)
    assert replaced.created_at == fast.created_at  # replacing keeps the creation time
    assert await store.list_aliases(group_id) == [big, replaced]
    assert await store.delete_alias(group_id, "fast") is True
    assert await store.delete_alias(group_id, "fast") is False
    assert await store.list_aliases(group_id) == [big]


@pytest.mark.parametrize(
    ("alias", "targets"),
    [("", ("m",)), ("a", ()), ("a", ("",)), ("a" * 257, ("m",)), ("a", "model")],
)
async def test_alias_validation(store: Store, alias: str, targets: tuple[str, ...]) -> None:
    _, group_id = await make_owner(store)
    with pytest.raises(ValueError):
        await store.set_alias(group_id, alias, targets)
    assert await store.list_aliases(group_id) == []


async def test_aliases_belong_to_one_group(store: Store) -> None:
    _, group_id = await make_owner(store)
    other = await store.create_group("other")
    await store.set_alias(group_id, "fast", ("a",))
    await store.set_alias(other.id, "fast", ("b",))
    assert [x.targets for x in await store.list_aliases(other.id)] == [("b",)]
    with pytest.raises(NotFound, match="no group"):
        await store.set_alias("nope", "fast", ("a",))
    assert await store.delete_group(group_id)
    assert await store.list_aliases(group_id) == []
    assert len(await store.list_aliases(other.id)) == 1


# -- usage flows ---------------------------------------------------------------------------


async def test_usage_flows_sum_per_consumer_and_node_owner(store: Store) -> None:
    alice, group_id = await make_owner(store)
    bob = (await store.create_user("bob")).id
    await store.add_member(group_id, bob, Role.MEMBER)
    a_node = await store.create_node(name="a", group_id=group_id, user_id=alice, token_hash="a")
    b_node = await store.create_node(name="b", group_id=group_id, user_id=bob, token_hash="b")

    def rec(rid: str, user: str, node: str | None, minutes: float = 0, **kw: object) -> object:
        return usage(rid, minutes, user_id=user, group_id=group_id, node_id=node, **kw)

    await store.record_usage(
        [
            rec("1", alice, b_node.id, prompt_tokens=3, completion_tokens=4),
            rec("2", alice, b_node.id, prompt_tokens=5, completion_tokens=6),
            rec("3", alice, a_node.id, prompt_tokens=1, completion_tokens=1),
            rec("4", bob, a_node.id, prompt_tokens=7, completion_tokens=0),
            rec("5", bob, None, prompt_tokens=0, completion_tokens=0, status=503),
            rec("6", bob, "gone", prompt_tokens=2, completion_tokens=2),
            rec("7", bob, a_node.id, 90, prompt_tokens=100, completion_tokens=100),
            usage("8", 0, user_id=bob, group_id="elsewhere", node_id=a_node.id),
        ]  # type: ignore[list-item]
    )
    flows = await store.usage_flows(group_id, until=T0 + timedelta(minutes=60))
    assert sorted(flows, key=repr) == sorted(
        [
            UsageFlow(alice, bob, 2, 8, 10),
            UsageFlow(alice, alice, 1, 1, 1),
            UsageFlow(bob, alice, 1, 7, 0),
            UsageFlow(bob, None, 1, 2, 2),
        ],
        key=repr,
    )
    consumers = [f.consumer_user_id for f in flows]
    assert consumers == sorted(consumers)  # ordered by consumer
    assert [f.provider_user_id for f in flows if f.consumer_user_id == bob][-1] is None
    later = await store.usage_flows(group_id, since=T0 + timedelta(minutes=60))
    assert later == [UsageFlow(bob, alice, 1, 100, 100)]
    assert later[0].total_tokens == 200
    assert await store.usage_flows("elsewhere") == [UsageFlow(bob, alice, 1, 10, 20)]
    assert await store.usage_flows("nobody") == []
