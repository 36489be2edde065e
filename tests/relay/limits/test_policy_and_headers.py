"""Stored limits resolved through the cache, and how decisions become headers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from relay.auth import Principal
from relay.limits import Decision, LimitBook, Limits, Quota, Tier
from relay.limits.headers import format_duration, rate_limit_headers, refusal_message
from storage import LimitScope, Role, Store, open_store

from .conftest import Clock


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path}/limits.db")
    yield opened
    await opened.close()


async def circle(store: Store) -> Principal:
    user = await store.create_user("alice")
    group = await store.create_group("friends")
    await store.add_member(group.id, user.id, Role.OWNER)
    return Principal("k1", "laptop", user.id, group.id)


async def test_limit_book_caches_for_the_ttl_and_invalidates(store: Store, clock: Clock) -> None:
    who = await circle(store)
    book = LimitBook(store, ttl_s=5.0, clock=clock)
    assert await book.policy(who) == ()
    await store.set_rate_limit(
        who.group_id, LimitScope.KEY, "k1", rpm=7, tpm=None, max_concurrent=None
    )
    assert await book.policy(who) == ()  # cached: the CLI's change is not seen yet
    clock.advance(5.1)
    assert await book.policy(who) == ()  # expired: served from the old rows, reloading
    await book.wait_loaded()
    [tier] = await book.policy(who)
    assert (tier.kind, tier.subject, tier.limits) == ("key", "k1", Limits(rpm=7))
    await store.delete_rate_limit(who.group_id, LimitScope.KEY, "k1")
    book.invalidate(who.group_id)  # a change through the relay: effective at once
    assert await book.policy(who) == ()


async def test_limit_book_loads_a_group_once_for_concurrent_requests(
    store: Store, clock: Clock
) -> None:
    who = await circle(store)
    await store.set_rate_limit(
        who.group_id, LimitScope.GROUP, who.group_id, rpm=1, tpm=None, max_concurrent=None
    )
    calls = 0
    original = store.list_rate_limits

    async def counting(group_id: str) -> list:  # type: ignore[type-arg]
        nonlocal calls
        calls += 1
        return await original(group_id)

    store.list_rate_limits = counting  # type: ignore[method-assign]
    book = LimitBook(store, ttl_s=5.0, clock=clock)
    policies = await asyncio.gather(*(book.policy(who) for _ in range(50)))
    assert calls == 1
    assert all(p == policies[0] and p[0].kind == "group" for p in policies)


async def test_limit_book_keeps_the_last_rows_when_the_store_fails(
    store: Store, clock: Clock
) -> None:
    who = await circle(store)
    await store.set_rate_limit(
        who.group_id, LimitScope.KEY, "k1", rpm=3, tpm=None, max_concurrent=None
    )
    book = LimitBook(store, ttl_s=1.0, clock=clock)
    assert len(await book.policy(who)) == 1
    await store.close()  # the database goes away
    clock.advance(2)
    assert len(await book.policy(who)) == 1
    await book.wait_loaded()  # the reload failed
    assert len(await book.policy(who)) == 1  # fail open, with the limits last known


def test_format_duration_like_openai() -> None:
    assert [format_duration(s) for s in (0, 0.0004, 0.25, 1, 1.5, 6, 59.9999, 60, 360.5)] == [
        "0s",
        "1ms",
        "250ms",
        "1s",
        "1.5s",
        "6s",
        "1m0s",
        "1m0s",
        "6m0.5s",
    ]
    assert format_duration(3 * 3600 + 61) == "3h1m1s"


def test_headers_for_allowed_and_refused() -> None:
    ok = Decision(True, requests=Quota(10, 9, 6.0), tokens=Quota(1000, 250, 45.0))
    assert rate_limit_headers(ok) == {
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "9",
        "x-ratelimit-reset-requests": "6s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "250",
        "x-ratelimit-reset-tokens": "45s",
    }
    assert rate_limit_headers(Decision(True)) == {}
    tier = Tier("key", "k1", "g", Limits(rpm=10))
    refused = Decision(False, requests=Quota(10, 0, 60.0), retry_after_s=5.2, tier=tier)
    refused.dimension, refused.limit = "requests", 10
    headers = rate_limit_headers(refused)
    assert headers["retry-after"] == "6" and headers["retry-after-ms"] == "5200"
    assert "x-ratelimit-limit-tokens" not in headers
    message = refusal_message(refused, "laptop")
    assert message == (
        "Rate limit reached for requests per minute on your API key 'laptop': limit 10."
        " Please try again in 5.2s."
    )
    refused.dimension, refused.retry_after_s = "concurrency", 1.0
    assert refusal_message(refused).startswith("Too many concurrent requests on your API key")


def test_limits_package_imports_no_web_framework() -> None:
    script = (
        "import sys, relay.limits, relay.limits.failover, relay.limits.headers\n"
        "bad = {'quart', 'hypercorn', 'werkzeug'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("value", [-1.0, 0.0])
def test_nonpositive_durations(value: float) -> None:
    assert format_duration(value) == "0s"
