"""Usage accounting off the hot path: a buffer the requests append to, written in batches.

A request's end costs one ``list.append`` (:meth:`UsageWriter.add`); a background task
writes what has gathered every ``interval_s`` seconds, or as soon as ``batch_size``
records wait, with one :meth:`Store.record_usage` call per batch. A failed write keeps its
records and is retried on the next round (the store ignores a ``request_id`` it already
has, so a retry never double-counts); past ``max_buffer`` records the oldest are dropped
with a warning rather than exhausting memory while the database is down.
:meth:`UsageWriter.close` writes everything left: a graceful shutdown loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from relay.requests import RequestLog
from storage import Store, UsageRecord

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_BUFFER = 200_000
CLOSE_ATTEMPTS = 3


def usage_record(entry: RequestLog) -> UsageRecord:
    """The usage record of a finished request (tokens 0 where none were counted)."""
    principal = entry.principal
    return UsageRecord(
        request_id=entry.request_id,
        time=entry.started_at,
        key_id=principal.key_id,
        user_id=principal.user_id,
        group_id=principal.group_id,
        node_id=entry.node_id,
        model=entry.model,
        prompt_tokens=entry.prompt_tokens or 0,
        completion_tokens=entry.completion_tokens or 0,
        ttft_ms=entry.ttft_ms,
        duration_ms=entry.duration_ms,
        status=entry.status,
        error_code=entry.error_code,
        estimated=entry.estimated,
    )


class UsageWriter:
    """The batch writer. One per relay process; :meth:`start` it inside the event loop."""

    def __init__(
        self,
        store: Store,
        *,
        interval_s: float = 1.0,
        batch_size: int = BATCH_SIZE,
        max_buffer: int = MAX_BUFFER,
    ) -> None:
        self._store = store
        self._interval = interval_s
        self._batch_size = batch_size
        self._max_buffer = max_buffer
        self._buffer: list[UsageRecord] = []
        self._wake = asyncio.Event()
        self._rounds = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._failing = False
        self.written = 0
        self.dropped = 0

    def add(self, record: UsageRecord) -> None:
        """Queue one record. Never blocks, never raises, never touches the database."""
        buffer = self._buffer
        buffer.append(record)
        if len(buffer) >= self._batch_size:
            self._wake.set()
        if self._closing and self._task is None:
            log.warning("a usage record arrived after shutdown; it is not saved")

    @property
    def pending(self) -> int:
        """Records waiting to be written."""
        return len(self._buffer)

    def start(self) -> None:
        """Start the background writer (call from the event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()
            async with self._rounds:
                self._rounds.notify_all()

    async def next_round(self) -> None:
        """Wait until the background task has finished its next write round (tests,
        diagnostics). Safe to cancel."""
        async with self._rounds:
            await self._rounds.wait()

    async def flush(self) -> int:
        """Write what is buffered now, batch by batch; return how many were written.

        Stops at the first failure (the records stay buffered). Cancelling it leaves an
        unfinished batch buffered too (a retry cannot double-count).
        """
        written = 0
        while self._buffer:
            batch = self._buffer[: self._batch_size]
            del self._buffer[: len(batch)]
            try:
                await self._store.record_usage(batch)
            except BaseException as exc:
                self._buffer[:0] = batch
                self._trim()
                if not isinstance(exc, Exception):
                    raise
                if not self._failing:
                    log.warning("cannot write usage records (%s); will retry", exc)
                    self._failing = True
                break
            if self._failing:
                log.warning("usage records are being written again")
                self._failing = False
            written += len(batch)
            self.written += len(batch)
        return written

    def _trim(self) -> None:
        excess = len(self._buffer) - self._max_buffer
        if excess > 0:
            del self._buffer[:excess]
            self.dropped += excess
            log.warning("usage buffer full; dropped the %d oldest records", excess)

    async def close(self) -> None:
        """Stop the background task and write everything left (a few attempts)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
            self._task = None
        for _ in range(CLOSE_ATTEMPTS):
            await self.flush()
            if not self._buffer:
                return
        log.error("shutting down with %d usage records unsaved", len(self._buffer))
