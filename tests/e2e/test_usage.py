"""Usage accounting end to end: what the ``openai`` SDK reports is what the relay records.

Real relay and agent processes, the simulated OpenAI backend; records are read back from
the relay's database. The relay writes usage every 50 ms here (``usage_flush_interval_s``)
so the tests wait on the database, not on a timer.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable

import httpx
import openai
import orjson
import pytest

from storage import UsageRecord, open_store
from tests.harness import AgentProc, Circle, RelayProc, SimBackend, run_async, wait_for_model

MESSAGES = [{"role": "user", "content": "tell me a story please"}]
FAST_FLUSH = {"usage_flush_interval_s": "0.05"}


def read_usage(database_url: str) -> list[UsageRecord]:
    """Every usage record, oldest first."""

    async def go() -> list[UsageRecord]:
        store = await open_store(database_url)
        try:
            return list(reversed(await store.list_usage(limit=100_000)))
        finally:
            await store.close()

    return run_async(go)


def wait_usage(database_url: str, count: int, timeout: float = 15.0) -> list[UsageRecord]:
    """Poll the database until it holds ``count`` records (a process boundary: no event)."""
    deadline = time.monotonic() + timeout
    while True:
        records = read_usage(database_url)
        if len(records) >= count or time.monotonic() > deadline:
            assert len(records) == count, [r.status for r in records]
            return records
        time.sleep(0.02)


@pytest.fixture
def metered(
    start_relay: Callable[..., RelayProc],
    start_agent: Callable[..., AgentProc],
    circle: Circle,
    sim: SimBackend,
) -> RelayProc:
    relay = start_relay(settings=FAST_FLUSH)
    start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    return relay


def client(relay: RelayProc, circle: Circle) -> openai.OpenAI:
    return openai.OpenAI(base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0)


def counts(record: UsageRecord) -> tuple[int, int]:
    return record.prompt_tokens, record.completion_tokens


def test_non_streaming_counts_equal_the_sdks(metered: RelayProc, circle: Circle) -> None:
    c = client(metered, circle)
    chat = c.chat.completions.create(model="sim-model", messages=MESSAGES, max_tokens=7)
    done = c.completions.create(model="sim-model", prompt="once upon a time", max_tokens=5)
    emb = c.embeddings.create(model="sim-model", input=["a b", "c"])
    reported = [
        (u.prompt_tokens, u.completion_tokens) for u in (chat.usage, done.usage) if u is not None
    ] + [(emb.usage.prompt_tokens, 0)]
    records = wait_usage(circle.database_url, 3)
    assert [counts(r) for r in records] == reported == [(5, 7), (4, 5), (3, 0)]
    for record in records:
        assert (record.key_id, record.user_id, record.group_id, record.node_id) == (
            circle.key_id,
            circle.user_id,
            circle.group_id,
            circle.node_id,
        )
        assert record.status == 200 and record.error_code is None and not record.estimated
        assert record.model == "sim-model" and record.ttft_ms is not None
        assert record.duration_ms >= record.ttft_ms > 0


def test_streaming_with_include_usage_counts_equal_the_sdks(
    metered: RelayProc, circle: Circle
) -> None:
    stream = client(metered, circle).chat.completions.create(
        model="sim-model",
        messages=MESSAGES,
        max_tokens=9,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    usage = chunks[-1].usage
    assert usage is not None and chunks[-1].choices == []  # the usage chunk arrives as usual
    [record] = wait_usage(circle.database_url, 1)
    assert counts(record) == (usage.prompt_tokens, usage.completion_tokens) == (5, 9)
    assert not record.estimated and record.status == 200


def test_stream_without_include_usage_gets_no_usage_chunk_yet_is_counted(
    metered: RelayProc, circle: Circle, sim: SimBackend
) -> None:
    body = {"model": "sim-model", "messages": MESSAGES, "max_tokens": 6, "stream": True}
    with httpx.stream(
        "POST",
        metered.url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {circle.api_key}"},
    ) as response:
        assert response.status_code == 200
        raw = b"".join(response.iter_bytes())
    events = [e.removeprefix(b"data: ") for e in raw.split(b"\n\n") if e]
    assert events[-1] == b"[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert all("usage" not in ch or ch["usage"] is None for ch in chunks)
    assert all(ch["choices"] for ch in chunks)  # no usage-only chunk
    assert len(chunks) == 1 + 6 + 1
    assert sim.state.requests[-1].body["stream_options"] == {"include_usage": True}
    # the same request asking for usage: the counts the SDK would report
    asked = client(metered, circle).chat.completions.create(
        model="sim-model",
        messages=MESSAGES,
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = list(asked)[-1].usage
    assert usage is not None
    first, second = wait_usage(circle.database_url, 2)
    assert counts(first) == counts(second) == (usage.prompt_tokens, usage.completion_tokens)
    assert not first.estimated


SLOW_STREAM = {
    "model": "sim-model",
    "messages": MESSAGES,
    "max_tokens": 500,
    "stream": True,
    "sim_token_delay_ms": 20,
}


def test_a_stream_cut_short_is_estimated(metered: RelayProc, circle: Circle) -> None:
    body = SLOW_STREAM
    with httpx.stream(
        "POST",
        metered.url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {circle.api_key}"},
    ) as response:
        seen = 0
        for chunk in response.iter_bytes():
            seen += chunk.count(b"data:")
            if seen >= 5:
                break  # hang up mid-answer: the backend never reports usage
    [record] = wait_usage(circle.database_url, 1)
    assert record.status == 499 and record.error_code == "client_closed_request"
    assert record.estimated
    assert record.prompt_tokens > 0 and 0 < record.completion_tokens < 500


async def _burst(relay: RelayProc, circle: Circle, total: int, parallel: int) -> int:
    limiter = asyncio.Semaphore(parallel)
    async with openai.AsyncOpenAI(
        base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0
    ) as c:

        async def one(i: int) -> int:
            async with limiter:
                if i % 2:
                    answer = await c.chat.completions.create(
                        model="sim-model", messages=MESSAGES, max_tokens=3
                    )
                    return answer.usage.total_tokens if answer.usage else 0
                stream = await c.chat.completions.create(
                    model="sim-model", messages=MESSAGES, max_tokens=3, stream=True
                )
                return len([ch async for ch in stream])

        results = await asyncio.gather(*(one(i) for i in range(total)))
    return len(results)


def test_graceful_shutdown_right_after_a_burst_keeps_every_record(
    start_relay: Callable[..., RelayProc],
    start_agent: Callable[..., AgentProc],
    circle: Circle,
    sim: SimBackend,
) -> None:
    # No timed flush during the test: only the shutdown can write the records.
    relay = start_relay(settings={"usage_flush_interval_s": "3600"})
    start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    assert asyncio.run(_burst(relay, circle, 500, 32)) == 500
    assert read_usage(circle.database_url) == []  # all still buffered
    # One more, still streaming when SIGTERM arrives: Hypercorn lets it finish first.
    slow = {**SLOW_STREAM, "max_tokens": 40, "sim_token_delay_ms": 10}
    with httpx.stream(
        "POST",
        relay.url + "/v1/chat/completions",
        json=slow,
        headers={"Authorization": f"Bearer {circle.api_key}"},
        timeout=30,
    ) as response:
        chunks = response.iter_bytes()
        first = next(chunks)
        relay.send_signal(signal.SIGTERM)
        rest = b"".join(chunks)
    assert (first + rest).endswith(b"data: [DONE]\n\n")
    assert relay.stop() == 0
    records = read_usage(circle.database_url)
    assert len(records) == 501
    assert {r.status for r in records} == {200}
    assert len({r.request_id for r in records}) == 501
    assert all(counts(r) == (5, 3) and not r.estimated for r in records[:500])
    assert counts(records[500]) == (5, 40)
