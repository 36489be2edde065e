"""Fixtures shared by every test package: real processes and simulated engines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import (
    AgentProc,
    BackgroundLoop,
    Circle,
    RelayProc,
    SimBackend,
    bootstrap,
    run_async,
)


@pytest.fixture(scope="session")
def background_loop() -> Iterator[BackgroundLoop]:
    bg = BackgroundLoop()
    yield bg
    bg.close()


@pytest.fixture
def sim(background_loop: BackgroundLoop) -> Iterator[SimBackend]:
    backend = SimBackend(background_loop)
    yield backend
    backend.stop()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/relay.db"


@pytest.fixture
def circle(database_url: str) -> Circle:
    return run_async(lambda: bootstrap(database_url))


@pytest.fixture
def start_relay(tmp_path: Path, database_url: str) -> Iterator[Callable[..., RelayProc]]:
    started: list[RelayProc] = []

    def start(
        settings: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
        port: int | None = None,
        verify: object = True,
        toml: str | None = None,
    ) -> RelayProc:
        merged = {"heartbeat_timeout_s": "2", "revocation_poll_s": "0.2", **(settings or {})}
        relay = RelayProc(database_url, tmp_path, settings=merged, tls=tls, port=port, toml=toml)
        started.append(relay)
        relay.wait_ready(verify=verify)
        return relay

    yield start
    for relay in started:
        relay.stop()


@pytest.fixture
def start_agent(tmp_path: Path) -> Iterator[Callable[..., AgentProc]]:
    started: list[AgentProc] = []

    def start(relay_url: str, token: str, backend_url: str | None, **kwargs: object) -> AgentProc:
        agent = AgentProc(relay_url, token, backend_url, tmp_path, **kwargs)  # type: ignore[arg-type]
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


@pytest.fixture
def relay(start_relay: Callable[..., RelayProc]) -> RelayProc:
    return start_relay()


@pytest.fixture
def agent(
    relay: RelayProc, circle: Circle, sim: SimBackend, start_agent: Callable[..., AgentProc]
) -> AgentProc:
    from tests.harness import wait_for_model

    proc = start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    return proc


def pytest_configure(config: pytest.Config) -> None:
    """In CI the Postgres cases must run: refuse to start rather than skip them."""
    import os

    if os.environ.get("LLMCLUSTER_REQUIRE_POSTGRES") and not os.environ.get(
        "LLMCLUSTER_TEST_POSTGRES_URL"
    ):
        raise pytest.UsageError(
            "LLMCLUSTER_REQUIRE_POSTGRES is set but LLMCLUSTER_TEST_POSTGRES_URL is not"
        )
