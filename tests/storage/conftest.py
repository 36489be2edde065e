"""Fixtures for the storage contract tests: one fresh store per test, on each backend.

SQLite stores live in ``tmp_path``. PostgreSQL stores need ``LLMCLUSTER_TEST_POSTGRES_URL``
(e.g. ``postgresql://postgres@127.0.0.1:5432/test``): the session creates its own
database ``llmc_test_<random>`` through that URL, resets its ``public`` schema before
each test and drops it (``WITH (FORCE)``) at the end, so parallel runs never collide.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
import pytest_asyncio

from storage import Store, open_store

PG_ENV = "LLMCLUSTER_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]

T = TypeVar("T")


def run_in_thread(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a private loop in a private thread (safe from sync fixtures,
    whatever pytest-asyncio is doing with the current thread's loop)."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        async def main() -> T:
            return await fn()

        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def with_database(url: str, database: str) -> str:
    """``url`` pointing at ``database`` instead of its own."""
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A PostgreSQL database of this test session's own, dropped at the end."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    import asyncpg

    name = f"llmc_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_in_thread(lambda: admin(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(base, name)
    finally:
        run_in_thread(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def reset_pg_schema(url: str) -> None:
    """Empty the database at ``url`` completely (tables, indexes, migration history)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


async def empty_pg_tables(store: Store) -> None:
    """Delete every row but the migration history of a migrated PostgreSQL store.

    DELETE beats TRUNCATE (and dropping and re-migrating the schema) by an order of
    magnitude on tables this small; audit ids are not reset, and no test relies on them.
    """
    pool = store._pool  # type: ignore[attr-defined]
    tables = await pool.fetch(
        "SELECT tablename FROM pg_tables"
        " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
    )
    deletes = "".join(f'DELETE FROM "{t["tablename"]}"; ' for t in tables)
    await pool.execute(f"BEGIN; {deletes}COMMIT")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test ("sqlite" or "postgres")."""
    if request.param == "postgres":
        request.getfixturevalue("pg_database_url")  # skips without the variable
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """This test's database on ``backend``: a new SQLite file, or the session's
    PostgreSQL database (emptied by :func:`store`, reset by :func:`empty_db_url`)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_database_url"))


@pytest_asyncio.fixture
async def empty_db_url(db_url: str, backend: str) -> str:
    """:func:`db_url`, guaranteed empty and never migrated."""
    if backend == "postgres":
        await reset_pg_schema(db_url)
    return db_url


@pytest_asyncio.fixture
async def store(db_url: str, backend: str) -> AsyncIterator[Store]:
    """A migrated store holding no rows; closed after the test."""
    opened = await open_store(db_url)
    try:
        if backend == "postgres":
            await empty_pg_tables(opened)
        yield opened
    finally:
        await opened.close()
