"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.sim._common import EngineSim
from tests.e2e.engines import ENGINES, Engine
from tests.harness import BackgroundLoop


@pytest.fixture(params=ENGINES, ids=lambda e: e.name)
def engine(
    request: pytest.FixtureRequest,
    background_loop: BackgroundLoop,
) -> Iterator[tuple[Engine, EngineSim]]:
    spec: Engine = request.param
    sim = spec.make()
    background_loop.run(sim.start())
    yield spec, sim
    background_loop.run(sim.stop())
