"""Fixtures for the detection tests: an HTTP session, sims stopped after the test, and
ports where nothing (or something silent) listens."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import aiohttp
import pytest

from agent.sim.openai import SimulatedOpenAI

S = TypeVar("S", bound=SimulatedOpenAI)
Starter = Callable[[S], Awaitable[S]]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def start() -> AsyncIterator[Starter[SimulatedOpenAI]]:
    """``await start(sim)`` binds a sim on a free loopback port; it is stopped after."""
    started: list[SimulatedOpenAI] = []

    async def _start(sim: S) -> S:
        await sim.start()
        started.append(sim)
        return sim

    yield _start
    for sim in started:
        await sim.stop()


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A loopback port that accepts connections and never answers."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()
