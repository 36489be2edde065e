"""The scheduler end to end: three agents, hot models, bursts, failover, a killed node."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import openai
import pytest

from agent.sim.ollama import OllamaState, SimulatedOllama
from agent.sim.openai import SimState, SimulatedOpenAI
from tests.harness import (
    AgentProc,
    BackgroundLoop,
    Circle,
    RelayProc,
    add_node,
    run_async,
    wait_for_model,
    wait_until,
)

MESSAGES = [{"role": "user", "content": "hello"}]


@dataclass
class Rig:
    name: str
    sim: SimulatedOpenAI
    agent: AgentProc


@pytest.fixture
def rigs_factory(
    background_loop: BackgroundLoop,
    circle: Circle,
    start_agent: Callable[..., AgentProc],
) -> Iterator[Callable[..., list[Rig]]]:
    sims: list[SimulatedOpenAI] = []

    def make(
        relay: RelayProc, sims_for_rigs: list[SimulatedOpenAI], max_concurrency: int = 8
    ) -> list[Rig]:
        rigs = []
        for i, sim in enumerate(sims_for_rigs):
            background_loop.run(sim.start())
            sims.append(sim)
            name = f"node-{i}"  # the circle's own node is "rig-1"
            token = (
                circle.node_token
                if i == 0
                else run_async(
                    lambda name=name: add_node(
                        circle.database_url, circle.group_id, circle.user_id, name
                    )
                )[1]
            )
            agent = start_agent(
                relay.url,
                token,
                sim.root_url if hasattr(sim, "root_url") else sim.base_url,
                name=name,
                extra_args=["--max-concurrency", str(max_concurrency)],
            )
            rigs.append(Rig(name, sim, agent))
        return rigs

    yield make
    for sim in sims:
        background_loop.run(sim.stop())


def test_requests_go_to_the_node_with_the_model_loaded(
    relay: RelayProc,
    circle: Circle,
    rigs_factory: Callable[..., list[Rig]],
) -> None:
    rigs = rigs_factory(
        relay,
        [
            SimulatedOllama(OllamaState(models=["m1", "m2"], loaded=["m1"])),
            SimulatedOllama(OllamaState(models=["m1", "m2"], loaded=["m2"])),
            SimulatedOllama(OllamaState(models=["m1", "m2"], loaded=[])),
        ],
    )
    for model in ("m1", "m2"):
        wait_for_model(relay.url, circle.api_key, model)
    wait_until(lambda: len(relay_nodes(relay, circle)) == 3, what="three nodes online")
    client = openai.OpenAI(base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0)
    for _ in range(6):
        client.chat.completions.create(model="m1", messages=MESSAGES, max_tokens=2)
        client.chat.completions.create(model="m2", messages=MESSAGES, max_tokens=2)
    served = [
        [r.body["model"] for r in rig.sim.state.requests if r.path == "/api/chat"] for rig in rigs
    ]
    assert served[0] == ["m1:latest"] * 6
    assert served[1] == ["m2:latest"] * 6
    assert served[2] == []


def relay_nodes(relay: RelayProc, circle: Circle) -> list[str]:
    """Nodes that have connected to the relay, from its log (each logs one line)."""
    return sorted(
        {
            line.split("node ", 1)[1].split(" ", 1)[0]
            for line in relay.output().splitlines()
            if "connected:" in line
        }
    )


def _slow_sims(n: int, delay_ms: float) -> list[SimulatedOpenAI]:
    return [SimulatedOpenAI(SimState(models=["m"], token_delay_ms=delay_ms)) for _ in range(n)]


async def _burst(relay: RelayProc, key: str, count: int, tokens: int) -> list[object]:
    async with openai.AsyncOpenAI(
        base_url=relay.url + "/v1", api_key=key, max_retries=0, timeout=60
    ) as client:

        async def one() -> object:
            try:
                stream = await client.chat.completions.create(
                    model="m", messages=MESSAGES, max_tokens=tokens, stream=True
                )
                return "".join(
                    [c.choices[0].delta.content or "" async for c in stream if c.choices]
                )
            except openai.APIStatusError as exc:
                return exc

        return await asyncio.gather(*(one() for _ in range(count)))


def test_a_burst_beyond_capacity_queues_then_completes_or_gets_503(
    start_relay: Callable[..., RelayProc],
    circle: Circle,
    rigs_factory: Callable[..., list[Rig]],
) -> None:
    relay = start_relay(toml="[scheduler]\nqueue_max_length = 10\nqueue_timeout_s = 60\n")
    rigs_factory(relay, _slow_sims(3, 20), max_concurrency=2)  # capacity 6
    wait_until(lambda: len(relay_nodes(relay, circle)) == 3, what="three nodes online")
    results = asyncio.run(_burst(relay, circle.api_key, 20, 10))
    done = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, openai.APIStatusError)]
    assert len(done) == 16  # 6 at once, 10 after waiting in the queue
    assert all(text == "".join(f"w{i} " for i in range(10)) for text in done)
    assert len(refused) == 4
    assert all(r.status_code == 503 and r.code == "queue_full" for r in refused)
    assert all(r.response.headers.get("retry-after") for r in refused)


def test_queued_requests_time_out_with_503_and_retry_after(
    start_relay: Callable[..., RelayProc],
    circle: Circle,
    rigs_factory: Callable[..., list[Rig]],
) -> None:
    relay = start_relay(toml="[scheduler]\nqueue_max_length = 50\nqueue_timeout_s = 0.3\n")
    rigs_factory(relay, _slow_sims(1, 100), max_concurrency=1)
    wait_until(lambda: len(relay_nodes(relay, circle)) == 1, what="the node online")
    results = asyncio.run(_burst(relay, circle.api_key, 3, 10))  # each takes ~1 s
    timed_out = [r for r in results if isinstance(r, openai.APIStatusError)]
    assert len([r for r in results if isinstance(r, str)]) == 1
    assert len(timed_out) == 2
    assert all(r.code == "queue_timeout" and r.response.headers["retry-after"] for r in timed_out)


def test_a_failing_backend_fails_over_and_cools_down(
    start_relay: Callable[..., RelayProc],
    circle: Circle,
    rigs_factory: Callable[..., list[Rig]],
) -> None:
    # Speed measurements off and a new conversation each time (no affinity), so the two
    # idle nodes stay tied and the failing one is picked at random early on (never
    # picked in 30 tries: odds of 2**-30).
    relay = start_relay(
        toml="[scheduler]\ncooldown_failures = 2\ncooldown_s = 60\n"
        "weight_ttft = 0\nweight_throughput = 0\n"
    )
    sims = _slow_sims(2, 0)
    sims[0].state.fail_status = 500
    rigs_factory(relay, sims)
    wait_until(lambda: len(relay_nodes(relay, circle)) == 2, what="two nodes online")
    client = openai.OpenAI(base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0)
    for i in range(30):
        fresh = [{"role": "user", "content": f"question {i}"}]
        answer = client.chat.completions.create(model="m", messages=fresh, max_tokens=2)
        assert answer.choices[0].message.content == "w0 w1 "  # every request answered
    failed = len(sims[0].state.requests)
    assert 1 <= failed <= 2  # tried, then penalised or benched: never more than twice
    assert len(sims[1].state.requests) == 30


def test_killing_a_node_under_load_loses_no_request(
    relay: RelayProc,
    circle: Circle,
    rigs_factory: Callable[..., list[Rig]],
) -> None:
    rigs = rigs_factory(relay, _slow_sims(3, 5), max_concurrency=16)
    wait_until(lambda: len(relay_nodes(relay, circle)) == 3, what="three nodes online")
    outcome: dict[str, int] = {"complete": 0, "error_after_stream": 0, "error_before": 0}

    async def load() -> None:
        async with openai.AsyncOpenAI(
            base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0, timeout=30
        ) as client:
            started = asyncio.Event()
            gate = asyncio.Semaphore(30)

            async def one(i: int) -> None:
                received = 0
                async with gate:
                    try:
                        stream = await client.chat.completions.create(
                            model="m", messages=MESSAGES, max_tokens=30, stream=True
                        )
                        text = ""
                        async for chunk in stream:
                            received += 1
                            if chunk.choices:
                                text += chunk.choices[0].delta.content or ""
                        assert text == "".join(f"w{n} " for n in range(30))
                        outcome["complete"] += 1
                    except openai.APIError:
                        outcome["error_after_stream" if received else "error_before"] += 1
                    if i == 50:
                        started.set()

            async def killer() -> None:
                await started.wait()
                rigs[1].agent.stop(signal.SIGKILL)

            await asyncio.wait_for(asyncio.gather(killer(), *(one(i) for i in range(200))), 120)

    asyncio.run(load())
    assert sum(outcome.values()) == 200
    assert outcome["error_before"] == 0, outcome  # nothing that had not streamed was lost
    assert outcome["complete"] >= 200 - 16  # at most the killed node's in-flight streams


def test_queued_requests_fail_fast_when_the_last_node_goes_away(
    start_relay: Callable[..., RelayProc],
    circle: Circle,
    rigs_factory: Callable[..., list[Rig]],
) -> None:
    relay = start_relay(toml="[scheduler]\nqueue_max_length = 10\nqueue_timeout_s = 60\n")
    rigs = rigs_factory(relay, _slow_sims(1, 200), max_concurrency=1)
    wait_until(lambda: len(relay_nodes(relay, circle)) == 1, what="the node online")

    async def burst_then_kill() -> list[BaseException | None]:
        async with openai.AsyncOpenAI(
            base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0, timeout=60
        ) as client:

            async def one() -> BaseException | None:
                try:
                    stream = await client.chat.completions.create(
                        model="m", messages=MESSAGES, max_tokens=50, stream=True
                    )
                    [c async for c in stream]  # ~10 s of tokens
                except openai.APIError as exc:
                    return exc
                return None

            burst = asyncio.gather(*(one() for _ in range(3)))
            await asyncio.sleep(1.0)  # one streaming, two queued
            rigs[0].agent.stop(signal.SIGKILL)
            return await asyncio.wait_for(burst, 15)  # far below the 60 s queue timeout

    results = asyncio.run(burst_then_kill())
    queued = [r for r in results if isinstance(r, openai.APIStatusError)]
    assert len(queued) == 2  # the streaming one ended with an error event instead
    assert all(r.status_code == 503 and r.code == "no_nodes_available" for r in queued)
