"""PostgreSQL backend of :class:`~storage.base.Store`, on an asyncpg pool.

For several relays sharing one database. Every query is parameterized (``$1``...);
the only interpolated identifier is the ``usage_totals`` grouping column, checked
against :data:`~storage.base.USAGE_GROUPINGS` first. Times are ``TIMESTAMPTZ`` and come
back as aware UTC datetimes. Name orderings use ``COLLATE "C"`` (code point order) so
they match the SQLite backend whatever the database's locale.

Cancel-safety: each method runs in one transaction (or one statement, which is its
own). If the awaiting task is cancelled, asyncpg cancels the query and the pool rolls
back or discards the connection before reuse, so nothing half-done is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from storage import _common as c
from storage.base import ApiKey, AuditEntry, Group, Membership, Node, NotFound, Role, User
from storage.postgres_accounting import PostgresAccounting
from storage.postgres_base import constraints, row_params

__all__ = ["CLOSE_TIMEOUT_S", "MIGRATION_LOCK_KEY", "PostgresStore"]

#: ``pg_advisory_xact_lock`` key serialising migrations across relays ("llmc" in ASCII).
MIGRATION_LOCK_KEY = 0x6C6C6D63
CLOSE_TIMEOUT_S = 10.0


class PostgresStore(PostgresAccounting):
    """A :class:`Store` on a PostgreSQL database. Create it with :meth:`open`.

    The pool and its helpers are in :class:`~storage.postgres_base.PostgresBase`; usage,
    limits and aliases in :class:`~storage.postgres_accounting.PostgresAccounting`. Safe
    to share between tasks and to cancel.
    """

    # -- lifecycle -----------------------------------------------------------------------

    async def migrate(self) -> int:
        migrations = await asyncio.to_thread(c.load_migrations, "postgres")
        while True:
            async with self._tx() as conn:
                # Held until this transaction ends: relays starting together queue here.
                await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
                )
                current: int = await conn.fetchval(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
                )
                pending = [m for m in migrations if m.version > current]
                if not pending:
                    return current
                await conn.execute(pending[0].sql)  # no parameters: may hold many statements
                await conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    pending[0].version,
                    c.utcnow(),
                )

    async def close(self) -> None:
        """Close the pool, waiting up to :data:`CLOSE_TIMEOUT_S` for queries in flight."""
        try:
            await asyncio.wait_for(self._pool.close(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self._pool.terminate()

    async def ping(self) -> None:
        await self._pool.fetchval("SELECT 1")

    # -- secrets ---------------------------------------------------------------------------

    async def get_or_create_secret(self, name: str, value: bytes) -> bytes:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO relay_secrets (name, value) VALUES ($1, $2)"
                " ON CONFLICT (name) DO NOTHING",
                name,
                value,
            )
            # READ COMMITTED: this sees the value of a relay that committed first.
            stored = await conn.fetchval("SELECT value FROM relay_secrets WHERE name = $1", name)
        return bytes(stored)

    # -- users ---------------------------------------------------------------------------

    async def create_user(self, name: str, *, is_operator: bool = False) -> User:
        user = User(c.new_id(), name, is_operator, c.utcnow())
        with constraints(f"user {name!r}"):
            await self._exec(
                "INSERT INTO users (id, name, is_operator, created_at) VALUES ($1, $2, $3, $4)",
                *row_params(user),
            )
        return user

    async def get_user(self, user_id: str) -> User | None:
        return await self._one(c.user_from_row, "SELECT * FROM users WHERE id = $1", user_id)

    async def get_user_by_name(self, name: str) -> User | None:
        return await self._one(c.user_from_row, "SELECT * FROM users WHERE name = $1", name)

    async def list_users(self) -> list[User]:
        return await self._all(c.user_from_row, 'SELECT * FROM users ORDER BY name COLLATE "C"')

    # -- groups and memberships ----------------------------------------------------------

    async def create_group(self, name: str) -> Group:
        group = Group(c.new_id(), name, c.utcnow())
        with constraints(f"group {name!r}"):
            await self._exec(
                "INSERT INTO groups (id, name, created_at) VALUES ($1, $2, $3)", *row_params(group)
            )
        return group

    async def get_group(self, group_id: str) -> Group | None:
        return await self._one(c.group_from_row, "SELECT * FROM groups WHERE id = $1", group_id)

    async def get_group_by_name(self, name: str) -> Group | None:
        return await self._one(c.group_from_row, "SELECT * FROM groups WHERE name = $1", name)

    async def list_groups(self) -> list[Group]:
        return await self._all(c.group_from_row, 'SELECT * FROM groups ORDER BY name COLLATE "C"')

    async def rename_group(self, group_id: str, new_name: str) -> Group:
        sql = "UPDATE groups SET name = $1 WHERE id = $2 RETURNING *"
        with constraints(f"group {new_name!r}"):
            group = await self._one(c.group_from_row, sql, new_name, group_id)
        if group is None:
            raise NotFound(f"no group with id {group_id!r}")
        return group

    async def delete_group(self, group_id: str) -> bool:
        return await self._exec("DELETE FROM groups WHERE id = $1", group_id) > 0

    async def add_member(self, group_id: str, user_id: str, role: Role) -> Membership:
        member = Membership(group_id, user_id, Role(role), c.utcnow())
        await self._insert_child(
            member,
            "INSERT INTO memberships (group_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
            f"membership of user {user_id!r} in group {group_id!r}",
        )
        return member

    async def set_member_role(self, group_id: str, user_id: str, role: Role) -> Membership:
        sql = "UPDATE memberships SET role = $1 WHERE group_id = $2 AND user_id = $3 RETURNING *"
        member = await self._one(c.membership_from_row, sql, Role(role).value, group_id, user_id)
        if member is None:
            raise NotFound(f"user {user_id!r} is not a member of group {group_id!r}")
        return member

    async def remove_member(self, group_id: str, user_id: str) -> bool:
        sql = "DELETE FROM memberships WHERE group_id = $1 AND user_id = $2"
        return await self._exec(sql, group_id, user_id) > 0

    async def get_membership(self, group_id: str, user_id: str) -> Membership | None:
        sql = "SELECT * FROM memberships WHERE group_id = $1 AND user_id = $2"
        return await self._one(c.membership_from_row, sql, group_id, user_id)

    async def list_members(self, group_id: str) -> list[Membership]:
        sql = "SELECT * FROM memberships WHERE group_id = $1 ORDER BY created_at, user_id"
        return await self._all(c.membership_from_row, sql, group_id)

    async def list_memberships_of_user(self, user_id: str) -> list[Membership]:
        sql = "SELECT * FROM memberships WHERE user_id = $1 ORDER BY created_at, group_id"
        return await self._all(c.membership_from_row, sql, user_id)

    # -- API keys --------------------------------------------------------------------------

    async def create_api_key(
        self, *, prefix: str, key_hash: str, user_id: str, group_id: str, name: str
    ) -> ApiKey:
        key = ApiKey(c.new_id(), prefix, key_hash, user_id, group_id, name, c.utcnow(), None, None)
        await self._insert_child(
            key,
            "INSERT INTO api_keys (id, prefix, key_hash, user_id, group_id, name, created_at,"
            " last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            "an API key with this hash",
        )
        return key

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        sql = "SELECT * FROM api_keys WHERE id = $1"
        return await self._one(c.api_key_from_row, sql, key_id)

    async def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        sql = "SELECT * FROM api_keys WHERE key_hash = $1"
        return await self._one(c.api_key_from_row, sql, key_hash)

    async def list_api_keys(
        self, *, group_id: str | None = None, user_id: str | None = None
    ) -> list[ApiKey]:
        sql = (
            "SELECT * FROM api_keys WHERE ($1::text IS NULL OR group_id = $1)"
            " AND ($2::text IS NULL OR user_id = $2) ORDER BY created_at, id"
        )
        return await self._all(c.api_key_from_row, sql, group_id, user_id)

    async def revoke_api_key(self, key_id: str) -> bool:
        sql = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
        return await self._exec(sql, c.utcnow(), key_id) > 0

    async def touch_api_keys(self, last_used: Sequence[tuple[str, datetime]]) -> None:
        """Only moves ``last_used_at`` forward, so batches may land out of order."""
        latest = c.coalesce_touches(last_used)
        if latest:
            await self._exec(
                "UPDATE api_keys AS k SET last_used_at = v.t"
                " FROM unnest($1::text[], $2::timestamptz[]) AS v (id, t)"
                " WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.t)",
                [key_id for key_id, _ in latest],
                [when for _, when in latest],
            )

    # -- nodes -----------------------------------------------------------------------------

    async def create_node(self, *, name: str, group_id: str, user_id: str, token_hash: str) -> Node:
        node = Node(c.new_id(), name, group_id, user_id, token_hash, c.utcnow(), None)
        await self._insert_child(
            node,
            "INSERT INTO nodes (id, name, group_id, user_id, token_hash, created_at, revoked_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            f"a live node {name!r} in group {group_id!r} (or its token)",
        )
        return node

    async def get_node(self, node_id: str) -> Node | None:
        return await self._one(c.node_from_row, "SELECT * FROM nodes WHERE id = $1", node_id)

    async def get_node_by_token_hash(self, token_hash: str) -> Node | None:
        sql = "SELECT * FROM nodes WHERE token_hash = $1"
        return await self._one(c.node_from_row, sql, token_hash)

    async def list_nodes(self, *, group_id: str | None = None) -> list[Node]:
        sql = (
            "SELECT * FROM nodes WHERE ($1::text IS NULL OR group_id = $1) ORDER BY created_at, id"
        )
        return await self._all(c.node_from_row, sql, group_id)

    async def revoke_node(self, node_id: str) -> bool:
        sql = "UPDATE nodes SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
        return await self._exec(sql, c.utcnow(), node_id) > 0

    # -- audit -----------------------------------------------------------------------------

    async def audit(self, actor: str, action: str, target: str, detail: str = "") -> None:
        await self._exec(
            "INSERT INTO audit_log (time, actor, action, target, detail)"
            " VALUES ($1, $2, $3, $4, $5)",
            *(c.utcnow(), actor, action, target, detail),
        )

    async def list_audit(self, *, limit: int = 100) -> list[AuditEntry]:
        sql = "SELECT * FROM audit_log ORDER BY id DESC LIMIT $1"
        return await self._all(c.audit_from_row, sql, c.check_limit(limit))
