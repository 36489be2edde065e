"""Connection plumbing of the PostgreSQL backend (see :mod:`storage.postgres`).

:class:`PostgresBase` owns the asyncpg pool; the query methods live in its subclasses
(:mod:`storage.postgres_accounting`, :mod:`storage.postgres`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Self, TypeVar

import asyncpg

from storage import _common as c
from storage.base import ApiKey, Conflict, Membership, Node, NotFound, Store

T = TypeVar("T")


@contextlib.contextmanager
def constraints(what: str) -> Iterator[None]:
    """Turn unique and foreign-key violations into :class:`Conflict` / :class:`NotFound`."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"{what} already exists") from exc
    except asyncpg.ForeignKeyViolationError as exc:
        raise NotFound(f"{what} names a missing row") from exc


def row_params(record: object) -> tuple[Any, ...]:
    """A record's fields as asyncpg parameters (datetimes and booleans pass as they are)."""
    return c.record_params(record, lambda t: t, bool)


class PostgresBase(Store):
    """The pool and its helpers; abstract (the query methods are in subclasses).

    Safe to share between tasks (each call borrows a pooled connection) and to cancel.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> Self:
        """Connect a pool to ``dsn`` (a ``postgresql://`` URL). Does not migrate.

        Safe to cancel: asyncpg closes the connections opened so far.
        """
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        return cls(pool)

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[Any]:
        """A pooled connection inside one transaction, READ COMMITTED whatever the
        database's default: each statement then sees rows other relays committed before
        it (``ON CONFLICT`` and the migration lock rely on that)."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="read_committed"):
            yield conn

    async def _one(self, conv: Callable[[c.Row], T], sql: str, *params: Any) -> T | None:
        """The first row of one statement as a record, or None."""
        row = await self._pool.fetchrow(sql, *params)
        return None if row is None else conv(row)

    async def _all(self, conv: Callable[[c.Row], T], sql: str, *params: Any) -> list[T]:
        """Every row of one statement as records."""
        return [conv(row) for row in await self._pool.fetch(sql, *params)]

    async def _exec(self, sql: str, *params: Any) -> int:
        """Run one writing statement; return the number of rows it touched."""
        status: str = await self._pool.execute(sql, *params)
        return int(status.rsplit(" ", 1)[-1])  # "UPDATE 1", "DELETE 0", "INSERT 0 1"

    async def _insert_child(self, record: Membership | ApiKey | Node, sql: str, what: str) -> None:
        """Insert ``record`` (whose columns ``sql`` lists), checking its group and user
        exist first, in one transaction.

        :class:`NotFound` names the missing parent; :class:`Conflict` reports ``what``.
        A parent deleted between the check and the insert still maps to NotFound.
        """
        with constraints(what):
            async with self._tx() as conn:
                row = await conn.fetchrow(
                    "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1) AS g,"
                    " EXISTS (SELECT 1 FROM users WHERE id = $2) AS u",
                    record.group_id,
                    record.user_id,
                )
                error = c.missing_parent(record.group_id, row["g"], record.user_id, row["u"])
                if error is not None:
                    raise error
                await conn.execute(sql, *row_params(record))
