"""The admin API on a Postgres-backed relay: the same tests, a different store.

Runs only when ``LLMCLUSTER_TEST_POSTGRES_URL`` names a server (each test gets a fresh
database); the tests themselves are imported from the SQLite modules.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.relay.admin.test_admin_authorization import (
    test_a_group_admin_cannot_touch_another_group,
    test_a_group_admin_sees_only_their_groups,
)
from tests.relay.admin.test_admin_commands import (
    test_groups_create_rename_delete,
    test_key_create_shows_the_secret_once_and_revoke_is_immediate,
    test_members_add_role_remove,
    test_model_aliases,
    test_usage_and_requests_read_without_auditing,
)
from tests.relay.admin.test_admin_live import test_commands_over_the_socket

POSTGRES_ENV = "LLMCLUSTER_TEST_POSTGRES_URL"

__all__ = [
    "test_a_group_admin_cannot_touch_another_group",
    "test_a_group_admin_sees_only_their_groups",
    "test_commands_over_the_socket",
    "test_groups_create_rename_delete",
    "test_key_create_shows_the_secret_once_and_revoke_is_immediate",
    "test_members_add_role_remove",
    "test_model_aliases",
    "test_usage_and_requests_read_without_auditing",
]


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def database_url() -> Iterator[str]:
    """A throw-away Postgres database (overrides the SQLite one of tests/conftest.py)."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"set {POSTGRES_ENV} to run the admin API on Postgres")
    name = f"llmc_admin_{secrets.token_hex(6)}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
