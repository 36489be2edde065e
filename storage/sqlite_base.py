"""Connection plumbing of the SQLite backend (see :mod:`storage.sqlite` for the design).

:class:`SqliteBase` owns the aiosqlite connection and the lock that keeps one
coroutine's statements together; the query methods live in its subclasses
(:mod:`storage.sqlite_accounting`, :mod:`storage.sqlite`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Self, TypeVar

import aiosqlite

from storage import _common as c
from storage.base import ApiKey, Conflict, Membership, Node, NotFound, Store

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
)


@contextlib.contextmanager
def constraints(what: str) -> Iterator[None]:
    """Turn SQLite constraint failures into :class:`Conflict` / :class:`NotFound`."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        name = getattr(exc, "sqlite_errorname", "")
        if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
            raise Conflict(f"{what} already exists") from exc
        if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
            raise NotFound(f"{what} names a missing row") from exc
        raise


def split_statements(script: str) -> list[str]:
    """Split a migration script into complete statements (``;`` inside strings,
    comments and trigger bodies are handled by SQLite's own tokenizer)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def ts(value: datetime) -> str:
    """A time as SQLite stores it (fixed-width ISO-8601 UTC text)."""
    return c.to_text_time(value)


def row_params(record: object) -> tuple[Any, ...]:
    """A record's fields as SQLite parameters: times as text, booleans as 0/1."""
    return c.record_params(record, ts, int)


class SqliteBase(Store):
    """The connection and its helpers; abstract (the query methods are in subclasses).

    Every method is safe to cancel: its statements are already queued on aiosqlite's
    thread, and :meth:`_tx` queues a ROLLBACK behind an unfinished transaction.
    """

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> Self:
        """Open (creating it and its parent folders if needed) the database at ``path``.

        ``":memory:"`` gives a private in-memory database. Does not migrate. Safe to
        cancel: a connection opened so far is closed again.
        """
        if path != ":memory:":
            await asyncio.to_thread(Path(path).parent.mkdir, parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            db.row_factory = aiosqlite.Row
            for pragma in _PRAGMAS:
                await db.execute(pragma)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the connection for one ``BEGIN IMMEDIATE`` .. ``COMMIT`` transaction.

        Cancel-safe: statements already handed to aiosqlite's thread run in order, and a
        ROLLBACK queued behind them undoes the lot unless COMMIT got there first.
        """
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                await self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self._db.rollback()  # a no-op if nothing is open
                raise

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        """Run one statement (its own implicit transaction) and return all its rows."""
        async with self._lock:
            return list(await self._db.execute_fetchall(sql, params))

    async def _one(self, conv: Callable[[c.Row], T], sql: str, *params: Any) -> T | None:
        """The first row of a query as a record, or None."""
        rows = await self._fetch(sql, params)
        return conv(rows[0]) if rows else None

    async def _all(self, conv: Callable[[c.Row], T], sql: str, *params: Any) -> list[T]:
        """Every row of a query as records."""
        return [conv(row) for row in await self._fetch(sql, params)]

    async def _exec(self, sql: str, *params: Any) -> int:
        """Run one writing statement (its own implicit transaction); return rowcount."""
        async with self._lock:
            cursor = await self._db.execute(sql, params)
            rowcount = cursor.rowcount
            await cursor.close()
            return rowcount

    async def _insert_child(self, record: Membership | ApiKey | Node, sql: str, what: str) -> None:
        """Insert ``record`` (whose columns ``sql`` lists), checking its group and user
        exist first, in one transaction.

        :class:`NotFound` names the missing parent; :class:`Conflict` reports ``what``.
        """
        with constraints(what):
            async with self._tx() as db:
                rows = await db.execute_fetchall(
                    "SELECT EXISTS (SELECT 1 FROM groups WHERE id = ?) AS g,"
                    " EXISTS (SELECT 1 FROM users WHERE id = ?) AS u",
                    (record.group_id, record.user_id),
                )
                row = next(iter(rows))
                error = c.missing_parent(
                    record.group_id, bool(row["g"]), record.user_id, bool(row["u"])
                )
                if error is not None:
                    raise error
                await db.execute(sql, row_params(record))
