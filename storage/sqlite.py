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
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage import _common as c
from storage.base import (
    ApiKey,
    AuditEntry,
    Conflict,
    Group,
    Membership,
    Node,
    NotFound,
    Role,
    Store,
    UsageRecord,
    UsageTotal,
    User,
)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
)

_USAGE_INSERT = (
    f"INSERT INTO usage ({', '.join(c.USAGE_COLUMNS)}) "  # noqa: S608 - constant column names
    f"VALUES ({', '.join('?' * len(c.USAGE_COLUMNS))}) ON CONFLICT (request_id) DO NOTHING"
)


@contextlib.contextmanager
def _constraints(what: str) -> Iterator[None]:
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


def _ts(value: datetime) -> str:
    return c.to_text_time(value)


def _params(record: object) -> tuple[Any, ...]:
    """A record's fields as SQLite parameters: times as text, booleans as 0/1."""
    return c.record_params(record, _ts, int)


class SqliteStore(Store):
    """A :class:`Store` on one SQLite file. Create it with :meth:`open`.

    Every method is safe to cancel: its statements are already queued on aiosqlite's
    thread, and :meth:`_tx` queues a ROLLBACK behind an unfinished transaction.
    """

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteStore:
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
        with _constraints(what):
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
                await db.execute(sql, _params(record))

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
                    (pending[0].version, _ts(c.utcnow())),
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
        with _constraints(f"user {name!r}"):
            await self._exec(
                "INSERT INTO users (id, name, is_operator, created_at) VALUES (?, ?, ?, ?)",
                *_params(user),
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
        with _constraints(f"group {name!r}"):
            await self._exec(
                "INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)",
                *_params(group),
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
        with _constraints(f"group {new_name!r}"):
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
        return await self._exec(sql, _ts(c.utcnow()), key_id) > 0

    async def touch_api_keys(self, last_used: Sequence[tuple[str, datetime]]) -> None:
        """Only moves ``last_used_at`` forward, so batches may land out of order."""
        params = [(_ts(t), key_id, _ts(t)) for key_id, t in c.coalesce_touches(last_used)]
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
        return await self._exec(sql, _ts(c.utcnow()), node_id) > 0

    # -- usage -----------------------------------------------------------------------------

    async def record_usage(self, records: Sequence[UsageRecord]) -> None:
        params = [_params(r) for r in records]
        if params:
            async with self._tx() as db:
                await db.executemany(_USAGE_INSERT, params)

    @staticmethod
    def _usage_where(
        since: datetime | None, until: datetime | None, group_id: str | None
    ) -> tuple[str, list[Any]]:
        """A WHERE clause naming only the filters given, so the planner can use the
        ``usage (time)`` and ``usage (group_id, time)`` indexes."""
        clauses, params = ["1 = 1"], []
        for clause, value in (
            ("time >= ?", None if since is None else _ts(since)),
            ("time < ?", None if until is None else _ts(until)),
            ("group_id = ?", group_id),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params

    async def list_usage(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        group_id: str | None = None,
        limit: int = 1000,
    ) -> list[UsageRecord]:
        where, params = self._usage_where(since, until, group_id)
        sql = f"SELECT * FROM usage WHERE {where} ORDER BY time DESC, request_id DESC LIMIT ?"  # noqa: S608 - fixed clauses
        return await self._all(c.usage_from_row, sql, *params, c.check_limit(limit))

    async def usage_totals(
        self,
        by: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        group_id: str | None = None,
    ) -> list[UsageTotal]:
        col = c.check_grouping(by)  # a vetted column name, never caller text
        where, params = self._usage_where(since, until, group_id)
        sql = (
            f"SELECT {col} AS key, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt_tokens,"  # noqa: S608
            f" SUM(completion_tokens) AS completion_tokens FROM usage WHERE {where}"
            f" GROUP BY {col} ORDER BY SUM(prompt_tokens + completion_tokens) DESC,"
            f" {col} IS NULL, {col}"
        )
        return await self._all(c.usage_total_from_row, sql, *params)

    # -- audit -----------------------------------------------------------------------------

    async def audit(self, actor: str, action: str, target: str, detail: str = "") -> None:
        await self._exec(
            "INSERT INTO audit_log (time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            *(_ts(c.utcnow()), actor, action, target, detail),
        )

    async def list_audit(self, *, limit: int = 100) -> list[AuditEntry]:
        sql = "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?"
        return await self._all(c.audit_from_row, sql, c.check_limit(limit))
