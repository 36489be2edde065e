"""Fixtures for the ``llmcluster-relay`` CLI tests: a scratch database and a runner.

The CLI runs in-process (``relay.cli.main`` with captured output) against a fresh SQLite
file per test. ``backend_url`` also yields a throw-away Postgres database when
``LLMCLUSTER_TEST_POSTGRES_URL`` names a server (the test is skipped otherwise).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from ._support import Cli, Run, run_cli

POSTGRES_ENV = "LLMCLUSTER_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No relay settings leak in from the caller's environment or home folder."""
    for var in list(os.environ):
        if var.startswith("LLMCLUSTER_RELAY_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLite database URL in the test's folder (four slashes: an absolute path)."""
    return f"sqlite:///{tmp_path}/r.db"


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest, db_url: str) -> Iterator[str]:
    """A fresh database on each backend; Postgres only when its server is configured."""
    if request.param == "sqlite":
        yield db_url
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"set {POSTGRES_ENV}=postgresql://user:pw@host/db to test on Postgres")
    name = f"llmc_cli_{secrets.token_hex(6)}"
    asyncio.run(_pg_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(server, name)
    finally:
        asyncio.run(_pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], backend_url: str) -> Cli:
    """``cli("group", "list")`` runs the CLI against this test's database."""

    def run(*argv: str) -> Run:
        return run_cli(capsys, "--database-url", backend_url, *argv)

    return run


@pytest.fixture
def sqlite_cli(capsys: pytest.CaptureFixture[str], db_url: str) -> Cli:
    """Like ``cli`` but on SQLite only (for tests that read the database file)."""

    def run(*argv: str) -> Run:
        return run_cli(capsys, "--database-url", db_url, *argv)

    return run
