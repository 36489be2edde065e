"""The batch usage writer on a real SQLite store: batching, retries, the final flush."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from relay.usage import UsageWriter
from storage import Store, UsageRecord, open_store

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def record(i: int) -> UsageRecord:
    return UsageRecord(f"r{i}", T0, "k", "u", "g", "n", "m", 1, 2, 3.0, 4.0, 200)


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path}/usage.db")
    yield opened
    await opened.close()


async def stored(store: Store) -> int:
    return len(await store.list_usage(limit=100_000))


async def test_add_never_writes_and_close_writes_everything(store: Store) -> None:
    writer = UsageWriter(store, interval_s=3600, batch_size=1000)
    writer.start()
    for i in range(2500):
        writer.add(record(i))
    assert writer.pending == 2500  # add() only appends: nothing awaited, nothing written
    await writer.close()
    assert await stored(store) == 2500 and writer.pending == 0 and writer.written == 2500


async def test_a_full_batch_is_written_before_the_interval(store: Store) -> None:
    writer = UsageWriter(store, interval_s=3600, batch_size=10)
    writer.start()
    round_done = asyncio.ensure_future(writer.next_round())
    await asyncio.sleep(0)
    for i in range(10):
        writer.add(record(i))
    await asyncio.wait_for(round_done, 5)
    assert await stored(store) == 10
    await writer.close()


async def test_the_interval_flushes_a_partial_batch(store: Store) -> None:
    writer = UsageWriter(store, interval_s=0.01, batch_size=1000)
    writer.start()
    writer.add(record(1))
    while writer.pending:
        await writer.next_round()
    assert await stored(store) == 1
    await writer.close()


async def test_a_failed_write_keeps_its_records_and_retries(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = UsageWriter(store, batch_size=4, max_buffer=6)
    with sqlite3.connect(tmp_path / "usage.db") as conn:  # the table goes away
        conn.execute("ALTER TABLE usage RENAME TO usage_away")
    caplog.set_level(logging.WARNING, logger="relay.usage")
    for i in range(8):
        writer.add(record(i))
    assert await writer.flush() == 0
    assert await writer.flush() == 0
    assert writer.pending == 6 and writer.dropped == 2  # the two oldest went
    assert sum("cannot write usage" in r.getMessage() for r in caplog.records) == 1
    with sqlite3.connect(tmp_path / "usage.db") as conn:
        conn.execute("ALTER TABLE usage_away RENAME TO usage")
    assert await writer.flush() == 6
    assert sorted(r.request_id for r in await store.list_usage()) == [f"r{i}" for i in range(2, 8)]
    assert "written again" in caplog.records[-1].getMessage()
