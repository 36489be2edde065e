"""Three-tier rate limits end to end, on both limiter backends (Redis is real).

A real relay (or two), real agents, the ``openai`` SDK and plain HTTP. Limits are stored
before the relay starts, as ``llmcluster-relay limits set`` would store them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest

from relay.security import new_api_key
from storage import LimitScope, Role, open_store
from tests.harness import (
    AgentProc,
    Circle,
    RelayProc,
    SimBackend,
    add_node,
    run_async,
    wait_for_model,
    wait_until,
)
from tests.relay.limits.redis_support import delete_prefix, random_prefix, shared_redis_url

MESSAGES = [{"role": "user", "content": "tell me a story please"}]


@dataclass
class Members:
    """The circle's second key for alice, and bob with a key of his own."""

    alice2: str
    bob: str
    bob_id: str


async def _add_members(circle: Circle) -> Members:
    store = await open_store(circle.database_url)
    try:
        bob = await store.create_user("bob")
        await store.add_member(circle.group_id, bob.id, Role.MEMBER)
        secrets = []
        for user_id, name in ((circle.user_id, "second"), (bob.id, "bobs")):
            secret, prefix, digest = new_api_key()
            await store.create_api_key(
                prefix=prefix, key_hash=digest, user_id=user_id, group_id=circle.group_id, name=name
            )
            secrets.append(secret)
    finally:
        await store.close()
    return Members(secrets[0], secrets[1], bob.id)


def set_limits(circle: Circle, *rows: tuple[LimitScope, str, dict[str, int]]) -> None:
    async def go() -> None:
        store = await open_store(circle.database_url)
        try:
            for scope, subject, values in rows:
                args = {"rpm": None, "tpm": None, "max_concurrent": None, **values}
                await store.set_rate_limit(circle.group_id, scope, subject, **args)
        finally:
            await store.close()

    run_async(go)


@pytest.fixture(params=["memory", "redis"])
def limiter_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Relay settings selecting one limiter backend (Redis under a random key prefix)."""
    if request.param == "memory":
        yield {"rate_limiter": "memory"}
        return
    url = shared_redis_url()
    prefix = random_prefix()
    yield {"rate_limiter": "redis", "redis_url": url, "redis_key_prefix": prefix}
    delete_prefix(url, prefix)


@pytest.fixture
def serve(
    start_relay: Callable[..., RelayProc],
    start_agent: Callable[..., AgentProc],
    circle: Circle,
    sim: SimBackend,
) -> Callable[..., RelayProc]:
    """Start a relay with these settings and an agent for it; wait until it serves."""

    def start(settings: dict[str, str], token: str | None = None) -> RelayProc:
        relay = start_relay(settings=settings)
        start_agent(relay.url, token or circle.node_token, sim.base_url)
        wait_for_model(relay.url, circle.api_key, "sim-model")
        return relay

    return start


def post(relay: RelayProc, key: str, **extra: object) -> httpx.Response:
    body = {"model": "sim-model", "messages": MESSAGES, "max_tokens": 3, **extra}
    return httpx.post(
        relay.url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def statuses(relay: RelayProc, key: str, n: int) -> list[int]:
    return [post(relay, key).status_code for _ in range(n)]


def test_each_tier_trips_independently_at_its_limit(
    serve: Callable[..., RelayProc], circle: Circle, limiter_settings: dict[str, str]
) -> None:
    members = run_async(lambda: _add_members(circle))
    set_limits(
        circle,
        (LimitScope.GROUP, circle.group_id, {"rpm": 10}),
        (LimitScope.USER, circle.user_id, {"rpm": 5}),
        (LimitScope.KEY, circle.key_id, {"rpm": 3}),
    )
    relay = serve(limiter_settings)
    sdk = openai.OpenAI(base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0)
    for _ in range(3):
        sdk.chat.completions.create(model="sim-model", messages=MESSAGES, max_tokens=2)
    with pytest.raises(openai.RateLimitError) as info:  # the key tier: 3
        sdk.chat.completions.create(model="sim-model", messages=MESSAGES, max_tokens=2)
    assert info.value.code == "rate_limit_exceeded"
    assert "your API key 'test-key'" in info.value.message and "limit 3" in info.value.message
    assert info.value.response.headers["x-ratelimit-limit-requests"] == "3"
    assert statuses(relay, members.alice2, 3) == [200, 200, 429]  # the user tier: 5
    refused = post(relay, members.alice2)
    assert "your account" in refused.json()["error"]["message"]
    assert refused.headers["x-ratelimit-limit-requests"] == "5"
    assert statuses(relay, members.bob, 6) == [200] * 5 + [429]  # the group tier: 10
    refused = post(relay, members.bob)
    assert "your group" in refused.json()["error"]["message"]
    assert refused.headers["x-ratelimit-limit-requests"] == "10"


def test_headers_on_every_response(
    serve: Callable[..., RelayProc], circle: Circle, limiter_settings: dict[str, str]
) -> None:
    set_limits(circle, (LimitScope.KEY, circle.key_id, {"rpm": 4, "tpm": 1000}))
    relay = serve(limiter_settings)
    ok = post(relay, circle.api_key)
    assert ok.status_code == 200
    assert ok.headers["x-ratelimit-limit-requests"] == "4"
    assert ok.headers["x-ratelimit-remaining-requests"] == "3"
    assert re.fullmatch(r"1[45](\.\d+)?s", ok.headers["x-ratelimit-reset-requests"])
    assert ok.headers["x-ratelimit-limit-tokens"] == "1000"
    assert int(ok.headers["x-ratelimit-remaining-tokens"]) < 1000
    assert ok.headers["x-ratelimit-reset-tokens"].endswith("s")
    assert "retry-after" not in ok.headers
    with httpx.stream(
        "POST",
        relay.url + "/v1/chat/completions",
        json={"model": "sim-model", "messages": MESSAGES, "max_tokens": 3, "stream": True},
        headers={"Authorization": f"Bearer {circle.api_key}"},
    ) as streamed:
        assert streamed.status_code == 200
        assert streamed.headers["x-ratelimit-remaining-requests"] == "2"
        streamed.read()
    failed = post(relay, circle.api_key, model="no-such-model")  # errors carry them too
    assert failed.status_code == 404 and failed.headers["x-ratelimit-remaining-requests"] == "1"
    assert post(relay, circle.api_key).status_code == 200
    refused = post(relay, circle.api_key)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 15
    assert 0 < int(refused.headers["retry-after-ms"]) <= retry_after * 1000
    assert refused.headers["x-ratelimit-limit-tokens"] == "1000"


def test_tokens_are_charged_with_the_real_usage(
    serve: Callable[..., RelayProc], circle: Circle, limiter_settings: dict[str, str]
) -> None:
    set_limits(circle, (LimitScope.KEY, circle.key_id, {"tpm": 50}))
    relay = serve(limiter_settings)
    first = post(relay, circle.api_key, max_tokens=30)  # charged 50 (capped), then 35
    assert first.status_code == 200
    refused = post(relay, circle.api_key, max_tokens=30)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "tokens"
    assert refused.headers["x-ratelimit-limit-tokens"] == "50"
    assert refused.headers["x-ratelimit-remaining-tokens"] == "15"  # 50 - (5 + 30)


def test_two_relays_sharing_redis_admit_at_most_two_over_the_limit(
    serve: Callable[..., RelayProc], circle: Circle
) -> None:
    url = shared_redis_url()
    prefix = random_prefix()
    settings = {"rate_limiter": "redis", "redis_url": url, "redis_key_prefix": prefix}
    set_limits(circle, (LimitScope.KEY, circle.key_id, {"rpm": 10}))
    _, second_token = run_async(
        lambda: add_node(circle.database_url, circle.group_id, circle.user_id, "rig-2")
    )
    try:
        relays = [serve(settings), serve(settings, token=second_token)]
        codes = [post(relays[i % 2], circle.api_key).status_code for i in range(24)]
    finally:
        delete_prefix(url, prefix)
    assert set(codes) == {200, 429}
    assert 10 <= codes.count(200) <= 12, codes
    assert codes[:10] == [200] * 10


def test_a_limit_set_with_the_cli_applies_within_the_cache_ttl(
    serve: Callable[..., RelayProc], circle: Circle
) -> None:
    relay = serve({"limits_cache_ttl_s": "0.2"})
    assert statuses(relay, circle.api_key, 3) == [200] * 3  # nothing is limited yet
    done = subprocess.run(
        [sys.executable, "-m", "relay", "--database-url", circle.database_url, "--json",
         "limits", "set", "--group", "friends", "--key", circle.key_id, "--rpm", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    wait_until(
        lambda: post(relay, circle.api_key).status_code == 429,
        timeout=5,
        what="the new limit to apply",
    )
