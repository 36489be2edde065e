"""SQL-free helpers for the accounting tables (rate limits, model aliases, usage flows).

Argument checks and row-to-record conversion shared by both backends, like
:mod:`storage._common`. Synchronous, no I/O.
"""

from __future__ import annotations

from typing import Any

import orjson

from storage._common import Row, from_db_time
from storage.accounting import LimitScope, ModelAlias, RateLimit, UsageFlow

#: How list_rate_limits orders scopes (the most general first).
SCOPE_ORDER = (LimitScope.GROUP, LimitScope.DEFAULT, LimitScope.USER, LimitScope.KEY)

#: ``ORDER BY`` expression putting scopes in :data:`SCOPE_ORDER` (constant SQL).
SCOPE_ORDER_SQL = (
    "CASE scope "
    + " ".join(f"WHEN '{scope.value}' THEN {i}" for i, scope in enumerate(SCOPE_ORDER))
    + " END"
)

MAX_LIMIT_VALUE = 2**31 - 1
MAX_NAME_LENGTH = 256


def check_limit_row(
    group_id: str, scope: LimitScope | str, subject_id: str, values: dict[str, int | None]
) -> LimitScope:
    """The scope as :class:`LimitScope` if the row is valid, else ``ValueError``.

    Values must be ``None`` or ints in 1..2**31-1; group and default rows name the group
    itself as subject; user and key rows need a non-empty subject.
    """
    try:
        kind = LimitScope(scope)
    except ValueError:
        raise ValueError(
            f"unknown limit scope {scope!r}; expected one of {[s.value for s in LimitScope]}"
        ) from None
    if kind in (LimitScope.GROUP, LimitScope.DEFAULT):
        if subject_id != group_id:
            raise ValueError(f"a {kind.value} limit's subject must be its group id")
    elif not subject_id:
        raise ValueError(f"a {kind.value} limit needs a subject id")
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer or None, got {value!r}")
        if not 1 <= value <= MAX_LIMIT_VALUE:
            raise ValueError(f"{name} must be between 1 and {MAX_LIMIT_VALUE}, got {value}")
    return kind


def check_alias(alias: str, targets: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The targets without duplicates (first occurrence kept); ``ValueError`` if the alias
    or a target is empty or too long, or there are no targets."""
    if not isinstance(alias, str) or not alias or len(alias) > MAX_NAME_LENGTH:
        raise ValueError(f"an alias must be 1-{MAX_NAME_LENGTH} characters")
    if isinstance(targets, str):
        raise ValueError("targets must be a sequence of model names, not one string")
    unique: list[str] = []
    for target in targets:
        if not isinstance(target, str) or not target or len(target) > MAX_NAME_LENGTH:
            raise ValueError(f"a target model name must be 1-{MAX_NAME_LENGTH} characters")
        if target not in unique:
            unique.append(target)
    if not unique:
        raise ValueError("an alias needs at least one target model")
    return tuple(unique)


def targets_json(targets: tuple[str, ...]) -> str:
    """The JSON text stored in ``model_aliases.targets``."""
    return orjson.dumps(list(targets)).decode()


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def rate_limit_from_row(row: Row) -> RateLimit:
    """The record of one ``rate_limits`` row (either backend)."""
    return RateLimit(
        group_id=row["group_id"],
        scope=LimitScope(row["scope"]),
        subject_id=row["subject_id"],
        rpm=_opt_int(row["rpm"]),
        tpm=_opt_int(row["tpm"]),
        max_concurrent=_opt_int(row["max_concurrent"]),
        updated_at=from_db_time(row["updated_at"]),
    )


def alias_from_row(row: Row) -> ModelAlias:
    """The record of one ``model_aliases`` row (either backend)."""
    targets = orjson.loads(row["targets"])
    return ModelAlias(
        group_id=row["group_id"],
        alias=row["alias"],
        targets=tuple(str(t) for t in targets),
        created_at=from_db_time(row["created_at"]),
    )


def usage_flow_from_row(row: Row) -> UsageFlow:
    """One result row of ``usage_flows`` (columns named like the fields)."""
    return UsageFlow(
        consumer_user_id=row["consumer_user_id"],
        provider_user_id=row["provider_user_id"],
        requests=int(row["requests"]),
        prompt_tokens=int(row["prompt_tokens"] or 0),
        completion_tokens=int(row["completion_tokens"] or 0),
    )
