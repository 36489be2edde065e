"""Fixtures of the console tests: the admin tests' circle and a relay serving it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.harness import RelayProc, run_async
from tests.relay.admin.support import World, build_world


@pytest.fixture
def world(database_url: str) -> World:
    return run_async(lambda: build_world(database_url))


@pytest.fixture
def console_relay(world: World, start_relay: Callable[..., RelayProc]) -> RelayProc:
    return start_relay(settings={"admin_update_interval_s": "0.2"})
