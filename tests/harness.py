"""Real parts for end-to-end tests: a relay and agents as processes, simulated backends.

Nothing here is a mock: the relay is the real ``python -m relay serve`` (Hypercorn) on a
loopback port, agents are real ``python -m agent run`` processes, and the backends are the
simulated engines of :mod:`agent.sim`, run on an event loop in a background thread so that
sync and async tests alike can inspect what they saw.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from agent.sim.openai import SimState, SimulatedOpenAI
from relay.security import new_api_key, new_node_token
from relay.server import free_port
from storage import Role, open_store

T = TypeVar("T")
READY_TIMEOUT_S = 20.0


class BackgroundLoop:
    """An event loop in a daemon thread, for servers that outlive one test's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class SimBackend:
    """A simulated OpenAI-compatible backend on loopback, in a background loop."""

    def __init__(
        self, bg: BackgroundLoop, models: list[str] | None = None, token_delay_ms: float = 0.0
    ) -> None:
        self._bg = bg
        self.state = bg.run(_make_state(models or ["sim-model"], token_delay_ms))
        self.server = SimulatedOpenAI(self.state)
        self.base_url = bg.run(self.server.start())

    def wait_disconnect(self, timeout: float = 5.0) -> bool:
        """Block until the backend saw a client hang up (or the timeout passes)."""

        async def wait() -> bool:
            try:
                await asyncio.wait_for(self.state.disconnected.wait(), timeout)
            except TimeoutError:
                return False
            return True

        return self._bg.run(wait(), timeout + 5)

    def stop(self) -> None:
        self._bg.run(self.server.stop())


async def _make_state(models: list[str], delay: float) -> SimState:
    return SimState(models=models, token_delay_ms=delay)  # its Event binds to this loop


@dataclass
class Circle:
    """A bootstrapped group: one user, one key, one node token."""

    database_url: str
    group_id: str
    user_id: str
    key_id: str
    api_key: str
    node_id: str
    node_token: str


async def bootstrap(
    database_url: str, *, group: str = "friends", user: str = "alice", node: str = "rig-1"
) -> Circle:
    """Create a group, a user with a key and a node, straight through the store."""
    store = await open_store(database_url)
    try:
        u = await store.create_user(user)
        g = await store.create_group(group)
        await store.add_member(g.id, u.id, Role.OWNER)
        secret, prefix, digest = new_api_key()
        key = await store.create_api_key(
            prefix=prefix, key_hash=digest, user_id=u.id, group_id=g.id, name="test-key"
        )
        token, token_hash = new_node_token()
        n = await store.create_node(name=node, group_id=g.id, user_id=u.id, token_hash=token_hash)
    finally:
        await store.close()
    return Circle(database_url, g.id, u.id, key.id, secret, n.id, token)


async def add_node(database_url: str, group_id: str, user_id: str, name: str) -> tuple[str, str]:
    """Register one more node; returns (node id, node token)."""
    store = await open_store(database_url)
    try:
        token, token_hash = new_node_token()
        n = await store.create_node(
            name=name, group_id=group_id, user_id=user_id, token_hash=token_hash
        )
    finally:
        await store.close()
    return n.id, token


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMCLUSTER_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def wait_until(
    predicate: Callable[[], bool], timeout: float = READY_TIMEOUT_S, what: str = "condition"
) -> None:
    """Poll a readiness condition (a process coming up) with a hard deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Proc:
    """A child process with its output captured to a file (shown when a test fails)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(args, env=env, stdout=self._out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    def send_signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        self.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(5)
        finally:
            self._out.close()


class RelayProc(Proc):
    """``python -m relay serve`` on a loopback port; settings through LLMCLUSTER_RELAY_*."""

    def __init__(
        self,
        database_url: str,
        tmp: Path,
        *,
        port: int | None = None,
        settings: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
        toml: str | None = None,
    ) -> None:
        self.port = port or free_port()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        extra = {f"LLMCLUSTER_RELAY_{k.upper()}": v for k, v in (settings or {}).items()}
        extra.setdefault("LLMCLUSTER_RELAY_DATA_DIR", str(tmp))
        args = [
            sys.executable,
            "-m",
            "relay",
            "--database-url",
            database_url,
            "serve",
            "--port",
            str(self.port),
        ]
        if tls:
            args += ["--certfile", str(tls[0]), "--keyfile", str(tls[1])]
        if toml is not None:  # e.g. a [scheduler] table, which has no environment form
            config = tmp / f"relay-{self.port}.toml"
            config.write_text(toml)
            args[3:3] = ["--config", str(config)]
        super().__init__(args, _env(extra), tmp / f"relay-{self.port}.log")

    def wait_ready(self, verify: Any = True) -> None:
        def up() -> bool:
            if self.popen.poll() is not None:
                raise RuntimeError(f"relay exited early:\n{self.output()}")
            try:
                return httpx.get(self.url + "/readyz", timeout=1, verify=verify).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, what="the relay to start")


class AgentProc(Proc):
    """``python -m agent run`` pointed at a relay and one backend (no port scan unless
    ``scan``; then LLMCLUSTER_AGENT_SCAN_PORTS says which ports)."""

    def __init__(
        self,
        relay_url: str,
        token: str,
        backend_url: str | None,
        tmp: Path,
        *,
        name: str = "rig",
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        scan: bool = False,
    ) -> None:
        args = [
            sys.executable,
            "-m",
            "agent",
            "run",
            "--relay",
            relay_url,
            "--token",
            token,
            "--name",
            name,
            "--log-level",
            "debug",
        ]
        if not scan:
            args.append("--no-scan")
        if backend_url:
            args += ["--backend", backend_url]
        args += extra_args or []
        extra = {"LLMCLUSTER_AGENT_HEARTBEAT_INTERVAL_S": "0.5", **(env or {})}
        super().__init__(args, _env(extra), tmp / f"agent-{name}-{time.monotonic_ns()}.log")


def models_of(relay_url: str, api_key: str, verify: Any = True) -> list[str]:
    response = httpx.get(
        relay_url + "/v1/models",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=5,
        verify=verify,
    )
    response.raise_for_status()
    return [m["id"] for m in response.json()["data"]]


def wait_for_model(
    relay_url: str,
    api_key: str,
    model: str,
    *,
    present: bool = True,
    timeout: float = READY_TIMEOUT_S,
    verify: Any = True,
) -> None:
    wait_until(
        lambda: (model in models_of(relay_url, api_key, verify)) == present,
        timeout,
        f"model {model} to {'appear' if present else 'vanish'}",
    )


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(fn())  # type: ignore[arg-type]
