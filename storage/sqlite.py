"""SQLite backend of :class:`~storage.base.Store`, on aiosqlite.

For a single relay (the default deployment). One connection, owned by aiosqlite's
worker thread, so no query ever blocks the event loop. An :class:`asyncio.Lock` makes
each method's statements run back to back on that connection: a transaction of one
coroutine never interleaves with statements of another.

Pragmas, set on every connection:

* ``journal_mode=WAL``: readers in other processes (backups, ``sqlite3`` CLI) do not
  block the relay's writer and vice versa.
* ``synchronous=NORMAL``: with WAL this fsyncs only at checkpoints, not on every commit.
  The database stays consistent and every committed transaction survives an
  application crash (the WAL is in the OS page cache); a power loss or kernel crash may
  lose the last few commits. For usage accounting and the audit log that trade is
  acceptable, and it keeps the usage writer's flushes cheap.
* ``foreign_keys=ON``: SQLite ignores ``REFERENCES`` (and so the group cascade)
  without it.
* ``busy_timeout``: wait for another process's write lock instead of failing at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from storage import _common as c
from storage.base import ApiKey, AuditEntry, Group, Membership, Node, NotFound, Role, User
from storage.sqlite_accounting import SqliteAccounting
from storage.sqlite_base import BUSY_TIMEOUT_MS, constraints, row_params, split_statements, ts

__all__ = ["BUSY_TIMEOUT_MS", "SqliteStore", "split_statements"]


class SqliteStore(SqliteAccounting):
    """A :class:`Store` on one SQLite file. Create it with :meth:`open`.

    Connection plumbing is in :class:`~storage.sqlite_base.SqliteBase`; usage, limits and
    aliases in :class:`~storage.sqlite_accounting.SqliteAccounting`. Every method is safe
    to cancel.
    """

    # -- lifecycle -----------------------------------------------------------------------

    async def migrate(self) -> int:
        migrations = await asyncio.to_thread(c.load_migrations, "sqlite")
        while True:
            async with self._tx() as db:  # BEGIN IMMEDIATE: other processes wait here
                await db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
                )
                rows = await db.execute_fetchall(
                    "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations"
                )
                current = int(next(iter(rows))["v"])
                pending = [m for m in migrations if m.version > current]
                if not pending:
                    return current
                for statement in split_statements(pending[0].sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (pending[0].version, ts(c.utcnow())),
                )

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()

    async def ping(self) -> None:
        await self._fetch("SELECT 1", ())

    # -- secrets ---------------------------------------------------------------------------

    async def get_or_create_secret(self, name: str, value: bytes) -> bytes:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO relay_secrets (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, value),
            )
            rows = await db.execute_fetchall(
                "SELECT value FROM relay_secrets WHERE name = ?", (name,)
            )
        return bytes(next(iter(rows))["value"])

    # -- users ---------------------------------------------------------------------------

    async def create_user(self, name: str, *, is_operator: bool = False) -> User:
        user = User(c.new_id(), name, is_operator, c.utcnow())
        with constraints(f"user {name!r}"):
            await self._exec(
                "INSERT INTO users (id, name, is_operator, created_at) VALUES (?, ?, ?, ?)",
                *row_params(user),
            )
        return user

    async def get_user(self, user_id: str) -> User | None:
        return await self._one(c.user_from_row, "SELECT * FROM users WHERE id = ?", user_id)

    async def get_user_by_name(self, name: str) -> User | None:
        return await self._one(c.user_from_row, "SELECT * FROM users WHERE name = ?", name)

    async def list_users(self) -> list[User]:
        return await self._all(c.user_from_row, "SELECT * FROM users ORDER BY name")

    # -- groups and memberships ----------------------------------------------------------

    async def create_group(self, name: str) -> Group:
        group = Group(c.new_id(), name, c.utcnow())
        with constraints(f"group {name!r}"):
            await self._exec(
                "INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)",
                *row_params(group),
            )
        return group

    async def get_group(self, group_id: str) -> Group | None:
        return await self._one(c.group_from_row, "SELECT * FROM groups WHERE id = ?", group_id)

    async def get_group_by_name(self, name: str) -> Group | None:
        return await self._one(c.group_from_row, "SELECT * FROM groups WHERE name = ?", name)

    async def list_groups(self) -> list[Group]:
        return await self._all(c.group_from_row, "SELECT * FROM groups ORDER BY name")

    async def rename_group(self, group_id: str, new_name: str) -> Group:
        sql = "UPDATE groups SET name = ? WHERE id = ? RETURNING *"
        with constraints(f"group {new_name!r}"):
            group = await self._one(c.group_from_row, sql, new_name, group_id)
        if group is None:
            raise NotFound(f"no group with id {group_id!r}")
        return group

    async def delete_group(self, group_id: str) -> bool:
        return await self._exec("DELETE FROM groups WHERE id = ?", group_id) > 0

    async def add_member(self, group_id: str, user_id: str, role: Role) -> Membership:
        member = Membership(group_id, user_id, Role(role), c.utcnow())
        await self._insert_child(
            member,
            "INSERT INTO memberships (group_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
            f"membership of user {user_id!r} in group {group_id!r}",
        )
        return member

    async def set_member_role(self, group_id: str, user_id: str, role: Role) -> Membership:
        sql = "UPDATE memberships SET role = ? WHERE group_id = ? AND user_id = ? RETURNING *"
        member = await self._one(c.membership_from_row, sql, Role(role).value, group_id, user_id)
        if member is None:
            raise NotFound(f"user {user_id!r} is not a member of group {group_id!r}")
        return member

    async def remove_member(self, group_id: str, user_id: str) -> bool:
        sql = "DELETE FROM memberships WHERE group_id = ? AND user_id = ?"
        return await self._exec(sql, group_id, user_id) > 0

    async def get_membership(self, group_id: str, user_id: str) -> Membership | None:
        sql = "SELECT * FROM memberships WHERE group_id = ? AND user_id = ?"
        return await self._one(c.membership_from_row, sql, group_id, user_id)

    async def list_members(self, group_id: str) -> list[Membership]:
        sql = "SELECT * FROM memberships WHERE group_id = ? ORDER BY created_at, rowid"
        return await self._all(c.membership_from_row, sql, group_id)

    async def list_memberships_of_user(self, user_id: str) -> list[Membership]:
        sql = "SELECT * FROM memberships WHERE user_id = ? ORDER BY created_at, rowid"
        return await self._all(c.membership_from_row, sql, user_id)

    # -- API keys --------------------------------------------------------------------------

    async def create_api_key(
        self, *, prefix: str, key_hash: str, user_id: str, group_id: str, name: str
    ) -> ApiKey:
        key = ApiKey(c.new_id(), prefix, key_hash, user_id, group_id, name, c.utcnow(), None, None)
        await self._insert_child(
            key,
            "INSERT INTO api_keys (id, prefix, key_hash, user_id, group_id, name, created_at,"
            " last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            "an API key with this hash",
        )
        return key

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        return await self._one(c.api_key_from_row, "SELECT * FROM api_keys WHERE id = ?", key_id)

    async def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        sql = "SELECT * FROM api_keys WHERE key_hash = ?"
        return await self._one(c.api_key_from_row, sql, key_hash)

    async def list_api_keys(
        self, *, group_id: str | None = None, user_id: str | None = None
    ) -> list[ApiKey]:
        sql = (
            "SELECT * FROM api_keys WHERE (?1 IS NULL OR group_id = ?1)"
            " AND (?2 IS NULL OR user_id = ?2) ORDER BY created_at, rowid"
        )
        return await self._all(c.api_key_from_row, sql, group_id, user_id)

    async def revoke_api_key(self, key_id: str) -> bool:
        sql = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        return await self._exec(sql, ts(c.utcnow()), key_id) > 0

    async def touch_api_keys(self, last_used: Sequence[tuple[str, datetime]]) -> None:
        """Only moves ``last_used_at`` forward, so batches may land out of order."""
        params = [(ts(t), key_id, ts(t)) for key_id, t in c.coalesce_touches(last_used)]
        if params:
            async with self._tx() as db:
                await db.executemany(
                    "UPDATE api_keys SET last_used_at = ?"
                    " WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                    params,
                )

    # -- nodes -----------------------------------------------------------------------------

    async def create_node(self, *, name: str, group_id: str, user_id: str, token_hash: str) -> Node:
        node = Node(c.new_id(), name, group_id, user_id, token_hash, c.utcnow(), None)
        await self._insert_child(
            node,
            "INSERT INTO nodes (id, name, group_id, user_id, token_hash, created_at, revoked_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            f"a live node {name!r} in group {group_id!r} (or its token)",
        )
        return node

    async def get_node(self, node_id: str) -> Node | None:
        return await self._one(c.node_from_row, "SELECT * FROM nodes WHERE id = ?", node_id)

    async def get_node_by_token_hash(self, token_hash: str) -> Node | None:
        sql = "SELECT * FROM nodes WHERE token_hash = ?"
        return await self._one(c.node_from_row, sql, token_hash)

    async def list_nodes(self, *, group_id: str | None = None) -> list[Node]:
        sql = "SELECT * FROM nodes WHERE (?1 IS NULL OR group_id = ?1) ORDER BY created_at, rowid"
        return await self._all(c.node_from_row, sql, group_id)

    async def revoke_node(self, node_id: str) -> bool:
        sql = "UPDATE nodes SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        return await self._exec(sql, ts(c.utcnow()), node_id) > 0

    # -- audit -----------------------------------------------------------------------------

    async def audit(self, actor: str, action: str, target: str, detail: str = "") -> None:
        await self._exec(
            "INSERT INTO audit_log (time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            *(ts(c.utcnow()), actor, action, target, detail),
        )

    async def list_audit(self, *, limit: int = 100) -> list[AuditEntry]:
        sql = "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?"
        return await self._all(c.audit_from_row, sql, c.check_limit(limit))
