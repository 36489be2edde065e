"""Starting the system under test: simulated backend, relay and agent, each a process.

Everything lives in a fresh temporary directory (sqlite database, logs) and listens on
loopback. :func:`start_cluster` bootstraps a group, an API key and a node straight through
the store (as the end-to-end tests do), then waits until the agent's model is visible
through the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from relay.server import free_port
from tests.bench.procs import ServerProc
from tests.harness import bootstrap

MODEL = "sim-model"
READY_TIMEOUT_S = 30.0
AGENT_MAX_CONCURRENCY = 512


class SetupError(RuntimeError):
    """The system under test could not be started."""


@dataclass
class Cluster:
    """The running processes and the two ways to reach the backend."""

    tmp: Path
    backend: ServerProc
    relay: ServerProc
    agent: ServerProc
    direct_base: str  # the backend itself, ends in /v1
    relay_base: str  # the relay, ends in /v1
    api_key: str

    @property
    def procs(self) -> list[ServerProc]:
        return [self.backend, self.relay, self.agent]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMCLUSTER_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


async def _wait(proc: ServerProc, check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds; fail fast if ``proc`` exits, or after a deadline."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if not proc.alive():
            raise SetupError(f"{proc.name} exited while waiting for {what}:\n{proc.output_tail()}")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
            if await check():
                return
        if time.monotonic() > deadline:
            raise SetupError(f"timed out waiting for {what}:\n{proc.output_tail()}")
        await asyncio.sleep(0.05)


async def _status_ok(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> bool:
    async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=2)) as r:
        return r.status == 200


async def _model_listed(http: aiohttp.ClientSession, url: str, key: str) -> bool:
    headers = {"Authorization": f"Bearer {key}"}
    async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=2)) as r:
        if r.status != 200:
            return False
        data = await r.json()
        return any(m.get("id") == MODEL for m in data.get("data", []))


async def start_cluster(
    tmp: Path, http: aiohttp.ClientSession, started: list[ServerProc]
) -> Cluster:
    """Start backend, relay and agent; every started process is appended to ``started``
    at once, so the caller can stop them even when start-up fails half-way."""
    py = sys.executable
    backend_port = free_port()
    backend = ServerProc(
        "backend",
        [py, "-m", "agent.sim.openai", "--port", str(backend_port), "--model", MODEL],
        _env({}),
        tmp / "backend.log",
    )
    started.append(backend)
    direct_base = f"http://127.0.0.1:{backend_port}/v1"

    database_url = f"sqlite:///{tmp}/relay.db"
    circle = await bootstrap(database_url, node="bench-rig")

    relay_port = free_port()
    relay = ServerProc(
        "relay",
        [py, "-m", "relay", "--database-url", database_url, "serve", "--port", str(relay_port)],
        _env({"LLMCLUSTER_RELAY_LOG_LEVEL": "warning", "LLMCLUSTER_RELAY_DATA_DIR": str(tmp)}),
        tmp / "relay.log",
    )
    started.append(relay)
    relay_root = f"http://127.0.0.1:{relay_port}"

    await _wait(backend, lambda: _status_ok(http, direct_base + "/models", {}), "the backend")
    await _wait(relay, lambda: _status_ok(http, relay_root + "/readyz", {}), "the relay")

    agent = ServerProc(
        "agent",
        [
            py,
            "-m",
            "agent",
            "run",
            "--relay",
            relay_root,
            "--token",
            circle.node_token,
            "--name",
            "bench-rig",
            "--no-scan",
            "--backend",
            direct_base,
            "--log-level",
            "warning",
        ],
        _env({"LLMCLUSTER_AGENT_MAX_CONCURRENCY": str(AGENT_MAX_CONCURRENCY)}),
        tmp / "agent.log",
    )
    started.append(agent)
    await _wait(
        agent,
        lambda: _model_listed(http, relay_root + "/v1/models", circle.api_key),
        "the agent's model to appear through the relay",
    )
    return Cluster(tmp, backend, relay, agent, direct_base, relay_root + "/v1", circle.api_key)
