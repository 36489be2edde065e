"""Usage, rate limits, model aliases and usage flows on PostgreSQL.

The accounting half of :class:`storage.postgres.PostgresStore`, split off to keep modules
small. Every method is safe to cancel (see :mod:`storage.postgres`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage import _accounting as a
from storage import _common as c
from storage.accounting import LimitScope, ModelAlias, RateLimit, UsageFlow
from storage.base import NotFound, UsageRecord, UsageTotal
from storage.postgres_base import PostgresBase, constraints, row_params

_USAGE_INSERT = (
    f"INSERT INTO usage ({', '.join(c.USAGE_COLUMNS)}) VALUES "  # noqa: S608 - constant columns
    f"({', '.join(f'${i + 1}' for i in range(len(c.USAGE_COLUMNS)))})"
    " ON CONFLICT (request_id) DO NOTHING"
)


class PostgresAccounting(PostgresBase):
    """Accounting queries; abstract (the rest of :class:`Store` is in ``PostgresStore``)."""

    # -- usage -----------------------------------------------------------------------------

    async def record_usage(self, records: Sequence[UsageRecord]) -> None:
        params = [row_params(r) for r in records]
        if params:
            async with self._tx() as conn:
                await conn.executemany(_USAGE_INSERT, params)

    @staticmethod
    def _usage_where(
        since: datetime | None, until: datetime | None, group_id: str | None
    ) -> tuple[str, list[Any]]:
        """A WHERE clause naming only the filters given (so the planner uses the
        ``usage (time)`` / ``usage (group_id, time)`` indexes), with its parameters."""
        clauses, params = ["TRUE"], []
        for clause, value in (
            ("time >= ${}", c.require_aware_opt(since, "since")),
            ("time < ${}", c.require_aware_opt(until, "until")),
            ("group_id = ${}", group_id),
        ):
            if value is not None:
                params.append(value)
                clauses.append(clause.format(len(params)))
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
        sql = (
            f"SELECT * FROM usage WHERE {where}"  # noqa: S608 - fixed clauses, $n parameters
            f" ORDER BY time DESC, request_id DESC LIMIT ${len(params) + 1}"
        )
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
            f"SELECT {col} AS key, COUNT(*) AS requests,"  # noqa: S608 - vetted column
            " SUM(prompt_tokens)::BIGINT AS prompt_tokens,"
            f" SUM(completion_tokens)::BIGINT AS completion_tokens FROM usage WHERE {where}"
            f" GROUP BY {col} ORDER BY SUM(prompt_tokens + completion_tokens) DESC,"
            f' {col} IS NULL, {col} COLLATE "C"'
        )
        return await self._all(c.usage_total_from_row, sql, *params)

    async def usage_flows(
        self,
        group_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[UsageFlow]:
        where, params = self._usage_where(since, until, group_id)
        sql = (
            "SELECT u.user_id AS consumer_user_id, n.user_id AS provider_user_id,"  # noqa: S608 - fixed clauses
            " COUNT(*) AS requests, SUM(u.prompt_tokens)::BIGINT AS prompt_tokens,"
            " SUM(u.completion_tokens)::BIGINT AS completion_tokens"
            " FROM (SELECT user_id, node_id, prompt_tokens, completion_tokens FROM usage"
            f" WHERE {where} AND node_id IS NOT NULL) AS u"
            " LEFT JOIN nodes AS n ON n.id = u.node_id"
            " GROUP BY u.user_id, n.user_id"
            ' ORDER BY u.user_id IS NULL, u.user_id COLLATE "C",'
            ' n.user_id IS NULL, n.user_id COLLATE "C"'
        )
        return await self._all(a.usage_flow_from_row, sql, *params)

    # -- rate limits -------------------------------------------------------------------------

    async def _require_group(self, group_id: str) -> None:
        if await self._pool.fetchval("SELECT 1 FROM groups WHERE id = $1", group_id) is None:
            raise NotFound(f"no group with id {group_id!r}")

    async def set_rate_limit(
        self,
        group_id: str,
        scope: LimitScope,
        subject_id: str,
        *,
        rpm: int | None,
        tpm: int | None,
        max_concurrent: int | None,
    ) -> RateLimit:
        values = {"rpm": rpm, "tpm": tpm, "max_concurrent": max_concurrent}
        kind = a.check_limit_row(group_id, scope, subject_id, values)
        limit = RateLimit(group_id, kind, subject_id, rpm, tpm, max_concurrent, c.utcnow())
        await self._require_group(group_id)
        with constraints(f"a row of group {group_id!r}"):
            await self._exec(
                "INSERT INTO rate_limits (group_id, scope, subject_id, rpm, tpm,"
                " max_concurrent, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (group_id, scope, subject_id) DO UPDATE SET rpm = excluded.rpm,"
                " tpm = excluded.tpm, max_concurrent = excluded.max_concurrent,"
                " updated_at = excluded.updated_at",
                *row_params(limit),
            )
        return limit

    async def list_rate_limits(self, group_id: str) -> list[RateLimit]:
        sql = (
            "SELECT * FROM rate_limits WHERE group_id = $1"  # noqa: S608 - constant SQL
            f' ORDER BY {a.SCOPE_ORDER_SQL}, subject_id COLLATE "C"'
        )
        return await self._all(a.rate_limit_from_row, sql, group_id)

    async def delete_rate_limit(self, group_id: str, scope: LimitScope, subject_id: str) -> bool:
        sql = "DELETE FROM rate_limits WHERE group_id = $1 AND scope = $2 AND subject_id = $3"
        return await self._exec(sql, group_id, str(scope), subject_id) > 0

    # -- model aliases -----------------------------------------------------------------------

    async def set_alias(self, group_id: str, alias: str, targets: tuple[str, ...]) -> ModelAlias:
        checked = a.check_alias(alias, targets)
        await self._require_group(group_id)
        with constraints(f"a row of group {group_id!r}"):
            row = await self._one(
                a.alias_from_row,
                "INSERT INTO model_aliases (group_id, alias, targets, created_at)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, alias)"
                " DO UPDATE SET targets = excluded.targets RETURNING *",
                group_id,
                alias,
                a.targets_json(checked),
                c.utcnow(),
            )
        assert row is not None
        return row

    async def delete_alias(self, group_id: str, alias: str) -> bool:
        sql = "DELETE FROM model_aliases WHERE group_id = $1 AND alias = $2"
        return await self._exec(sql, group_id, alias) > 0

    async def list_aliases(self, group_id: str) -> list[ModelAlias]:
        sql = 'SELECT * FROM model_aliases WHERE group_id = $1 ORDER BY alias COLLATE "C"'
        return await self._all(a.alias_from_row, sql, group_id)
