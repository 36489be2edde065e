"""S4: three agents behind one relay - how the scheduler spreads load, and what a
decision costs.

The spread runs a fresh relay with three simulated backends, each behind its own agent
(max concurrency 16), and a streamed load at concurrency 48; the relay's usage records
say which node served each request. The cost per decision is measured in process: the
pure :func:`relay.scheduler.schedule` over fleets of 3, 10 and 50 nodes, and the
dispatcher's whole decision (snapshots of live sessions included) for three nodes.
"""

from __future__ import annotations

import asyncio
import sys
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from config import SchedulerSettings
from relay.directory import LocalDirectory
from relay.dispatch import Dispatcher
from relay.protocol import PROTOCOL_VERSION, Hello, ModelEntry
from relay.scheduler import NodeSnapshot, Request, schedule
from relay.server import free_port
from relay.tunnel.session import AgentSession
from storage import open_store
from tests.bench.cluster import MODEL, _env, _model_listed, _status_ok, _wait
from tests.bench.load import Target, call_stream, expected_text, request_body, run_pool
from tests.bench.procs import ServerProc
from tests.harness import add_node, bootstrap

AGENTS = 3
AGENT_CONCURRENCY = 16


@dataclass
class SpreadResult:
    requests: int
    errors: int
    wall_s: float
    per_node: dict[str, int]
    decision_us: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "wall_s": self.wall_s,
            "per_node": self.per_node,
            "decision_us": self.decision_us,
        }


def _fleet(size: int) -> list[NodeSnapshot]:
    return [
        NodeSnapshot(
            node_id=f"n{i}",
            name=f"n{i}",
            group_id="g",
            models={MODEL: i % 2 == 0, "other": True},
            in_flight=i % 4,
            max_concurrency=8,
            ttft_ms=50.0 + i,
            tokens_per_s=40.0 + i,
            gpu_utilization_pct=30.0,
            vram_free_mb=8000.0,
            vram_total_mb=24000.0,
        )
        for i in range(size)
    ]


async def decision_costs() -> dict[str, float]:
    """Microseconds per decision."""
    costs: dict[str, float] = {}
    request = Request("g", MODEL)
    for size in (3, 10, 50):
        fleet = _fleet(size)
        runs = 20_000 if size < 50 else 4_000
        seconds = timeit.timeit(lambda fleet=fleet: schedule(fleet, request), number=runs)
        costs[f"schedule, {size} nodes"] = seconds / runs * 1e6
    costs["dispatcher decide, 3 live sessions"] = await _dispatcher_cost()
    return costs


async def _dispatcher_cost() -> float:
    directory = LocalDirectory()

    async def nothing(*_: object) -> None:
        return None

    for i in range(3):
        hello = Hello(
            PROTOCOL_VERSION,
            "bench",
            f"rig-{i}",
            (ModelEntry(MODEL, True),),
            gpus=({"utilization_pct": 20.0, "memory_used_mb": 4000, "memory_total_mb": 24000},),
        )
        directory.attach(
            AgentSession(
                node_id=f"n{i}",
                node_name=f"rig-{i}",
                group_id="g",
                hello=hello,
                send=nothing,
                close=nothing,
                window_bytes=1 << 20,
                max_message_bytes=1 << 24,
            )
        )
    dispatcher = Dispatcher(
        directory, SchedulerSettings(), first_byte_timeout_s=60, request_timeout_s=600
    )
    runs = 20_000
    started = time.perf_counter()
    for _ in range(runs):
        dispatcher.decide(Request("g", MODEL))
    return (time.perf_counter() - started) / runs * 1e6


async def run_spread(
    tmp: Path, http: aiohttp.ClientSession, started: list[ServerProc], *, quick: bool
) -> SpreadResult:
    """Start the three-agent cluster, load it, and read back who served what."""
    py = sys.executable
    database_url = f"sqlite:///{tmp}/spread.db"
    circle = await bootstrap(database_url, node="rig-0")
    tokens = [circle.node_token]
    for i in (1, 2):
        tokens.append(
            (await add_node(database_url, circle.group_id, circle.user_id, f"rig-{i}"))[1]
        )
    relay_port = free_port()
    relay = ServerProc(
        "spread-relay",
        [py, "-m", "relay", "--database-url", database_url, "serve", "--port", str(relay_port)],
        _env(
            {
                "LLMCLUSTER_RELAY_LOG_LEVEL": "warning",
                "LLMCLUSTER_RELAY_DATA_DIR": str(tmp),
                "LLMCLUSTER_RELAY_USAGE_FLUSH_INTERVAL_S": "0.2",
            }
        ),
        tmp / "spread-relay.log",
    )
    started.append(relay)
    root = f"http://127.0.0.1:{relay_port}"
    await _wait(relay, lambda: _status_ok(http, root + "/readyz", {}), "the spread relay")
    for i, token in enumerate(tokens):
        port = free_port()
        backend = ServerProc(
            f"spread-backend-{i}",
            [py, "-m", "agent.sim.openai", "--port", str(port), "--model", MODEL],
            _env({}),
            tmp / f"spread-backend-{i}.log",
        )
        started.append(backend)
        base = f"http://127.0.0.1:{port}/v1"
        await _wait(
            backend, lambda base=base: _status_ok(http, base + "/models", {}), f"backend {i}"
        )
        agent = ServerProc(
            f"spread-agent-{i}",
            [
                py,
                "-m",
                "agent",
                "run",
                "--relay",
                root,
                "--token",
                token,
                "--name",
                f"rig-{i}",
                "--no-scan",
                "--backend",
                base,
                "--log-level",
                "warning",
                "--max-concurrency",
                str(AGENT_CONCURRENCY),
            ],
            _env({}),
            tmp / f"spread-agent-{i}.log",
        )
        started.append(agent)
    await _wait(
        relay, lambda: _model_listed(http, root + "/v1/models", circle.api_key), "the agents' model"
    )
    await asyncio.sleep(1.0)  # all three agents connected (the model shows with the first)

    count = 300 if quick else 1200
    target = Target(
        "relay",
        root + "/v1/chat/completions",
        {"Authorization": f"Bearer {circle.api_key}", "Content-Type": "application/json"},
    )
    body = request_body(16, stream=True, token_delay_ms=5)
    expected = expected_text(16)
    outcomes, wall = await run_pool(
        lambda: call_stream(http, target, body, expected),
        requests=count,
        concurrency=AGENTS * AGENT_CONCURRENCY,
    )
    await asyncio.sleep(0.6)  # the usage writer flushes every 0.2 s
    store = await open_store(database_url)
    try:
        names = {n.id: n.name for n in await store.list_nodes()}
        totals = await store.usage_totals("node_id")
    finally:
        await store.close()
    per_node = {names.get(t.key or "", "none"): t.requests for t in totals}
    return SpreadResult(
        count, sum(1 for o in outcomes if not o.ok), wall, per_node, await decision_costs()
    )


def render_spread(result: SpreadResult) -> str:
    lines = [
        f"S4  three agents (max concurrency {AGENT_CONCURRENCY} each), streamed 16 tokens, "
        f"concurrency {AGENTS * AGENT_CONCURRENCY}, {result.requests} requests",
        f"  errors {result.errors}   wall {result.wall_s:.2f} s   "
        f"{result.requests / result.wall_s:,.1f} requests/s",
        "  served by node:",
    ]
    for name, served in sorted(result.per_node.items()):
        share = served / max(1, result.requests) * 100
        lines.append(f"    {name:<10} {served:>6}  ({share:4.1f}%)")
    lines.append("  scheduler cost per decision:")
    for what, micros in result.decision_us.items():
        lines.append(f"    {what:<38} {micros:8.1f} us")
    return "\n".join(lines)
