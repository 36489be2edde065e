"""One request's books (relay.usage_meter): counts, estimates, limits settled once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from relay.auth import Principal
from relay.events import EventHub
from relay.limits import LimitBook, MemoryLimiter
from relay.requests import RequestLog
from relay.usage import UsageWriter
from relay.usage_meter import Accounting, Meter, requested_completion_tokens
from storage import LimitScope, Role, Store, open_store


@pytest_asyncio.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Store, Accounting, Principal]]:
    store = await open_store(f"sqlite:///{tmp_path}/meter.db")
    user = await store.create_user("ann")
    group = await store.create_group("friends")
    await store.add_member(group.id, user.id, Role.OWNER)
    accounting = Accounting(
        LimitBook(store), MemoryLimiter(), UsageWriter(store, interval_s=3600), EventHub()
    )
    yield store, accounting, Principal("k1", "laptop", user.id, group.id)
    await accounting.close()
    await store.close()


def meter(accounting: Accounting, who: Principal, body: int = 400, stream: bool = False) -> Meter:
    entry = RequestLog(who, "/v1/chat/completions", "m", stream)
    entry.node_id = "n1"
    return Meter(accounting, entry, body)


async def test_counts_from_the_backend_win(setup: tuple[Store, Accounting, Principal]) -> None:
    store, accounting, who = setup
    feed = accounting.events.subscribe()
    m = meter(accounting, who)
    m.finish(200, None, (12, 34), answer_bytes=999)
    m.finish(500, "again", (1, 1))  # ignored: books close once
    await accounting.usage.flush()
    [record] = await store.list_usage()
    assert (record.prompt_tokens, record.completion_tokens, record.estimated) == (12, 34, False)
    assert record.status == 200
    kind, event = feed.drain()[0]
    assert kind == "request" and event["estimated"] is False and event["prompt_tokens"] == 12


async def test_without_counts_tokens_are_estimated(
    setup: tuple[Store, Accounting, Principal],
) -> None:
    store, accounting, who = setup
    meter(accounting, who, body=400).finish(200, None, None, answer_bytes=200)
    meter(accounting, who, body=40, stream=True).finish(200, None, (None, None), events_seen=13)
    failed = meter(accounting, who)
    failed.finish(502, "backend_unavailable", None, answer_bytes=120)  # an error body: no tokens
    await accounting.usage.flush()
    plain, streamed, error = reversed(await store.list_usage())
    assert (plain.prompt_tokens, plain.completion_tokens, plain.estimated) == (100, 50, True)
    assert (streamed.prompt_tokens, streamed.completion_tokens, streamed.estimated) == (
        10,
        10,
        True,
    )
    assert (error.prompt_tokens, error.completion_tokens, error.estimated) == (0, 0, False)


async def test_limits_are_settled_with_the_real_tokens(
    setup: tuple[Store, Accounting, Principal],
) -> None:
    store, accounting, who = setup
    await store.set_rate_limit(
        who.group_id, LimitScope.KEY, "k1", rpm=None, tpm=1000, max_concurrent=1
    )
    first = meter(accounting, who, body=400)
    decision = await first.admit()
    assert decision.allowed and first.headers["x-ratelimit-remaining-tokens"] == "900"
    second = meter(accounting, who)
    refused = await second.admit()
    assert not refused.allowed and refused.dimension == "concurrency"
    first.finish(200, None, (300, 200))  # frees the slot, charges 500 instead of 100
    third = meter(accounting, who)
    assert (await third.admit()).allowed
    assert third.headers["x-ratelimit-remaining-tokens"] == "400"


def test_requested_completion_tokens() -> None:
    assert requested_completion_tokens({"max_tokens": 50}) == 50
    assert requested_completion_tokens({"max_completion_tokens": 7, "max_tokens": 50}) == 7
    assert requested_completion_tokens({"max_tokens": True}) == 0
    assert requested_completion_tokens({"max_tokens": "9"}) == 0
    assert requested_completion_tokens({}) == 0
