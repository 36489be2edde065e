"""SQL-free helpers shared by the storage backends.

Row-to-record conversion, id and time generation, argument checks and migration
loading live here so :mod:`storage.sqlite` and :mod:`storage.postgres` only hold SQL.
Nothing in this module does I/O except :func:`load_migrations`, which reads the
packaged ``.sql`` files (small, read once at start-up). Everything is synchronous and
therefore trivially safe to cancel around.
"""

from __future__ import annotations

import enum
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Protocol

from storage.base import (
    USAGE_GROUPINGS,
    ApiKey,
    AuditEntry,
    Group,
    Membership,
    Node,
    NotFound,
    Role,
    UsageRecord,
    UsageTotal,
    User,
)


class Row(Protocol):
    """What both ``sqlite3.Row`` and ``asyncpg.Record`` offer: access by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


# -- ids and times -------------------------------------------------------------------

_clock_lock = threading.Lock()
_last_now = datetime(1970, 1, 1, tzinfo=UTC)


def new_id() -> str:
    """A fresh opaque id (``uuid4().hex``)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """The current aware UTC time, strictly increasing within this process.

    Both backends store microseconds; a coarse system clock (or two rows created in the
    same microsecond) could otherwise tie, and "ordered by creation" would become
    ambiguous. A clock stepped back by more than a second is believed, not papered over.
    """
    global _last_now
    with _clock_lock:
        now = datetime.now(UTC)
        if _last_now - timedelta(seconds=1) < now <= _last_now:
            now = _last_now + timedelta(microseconds=1)
        _last_now = now
        return now


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """``value`` converted to UTC; ``ValueError`` if it is naive (its zone is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def require_aware_opt(value: datetime | None, what: str = "datetime") -> datetime | None:
    """Like :func:`require_aware` for an optional argument."""
    return None if value is None else require_aware(value, what)


def to_text_time(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC text, so text comparison orders like time (SQLite)."""
    return require_aware(value).isoformat(timespec="microseconds")


def from_db_time(value: datetime | str) -> datetime:
    """An aware UTC datetime from either backend's representation."""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def from_db_time_opt(value: datetime | str | None) -> datetime | None:
    """Like :func:`from_db_time` for a nullable column."""
    return None if value is None else from_db_time(value)


# -- argument checks -------------------------------------------------------------------


def check_grouping(by: str) -> str:
    """``by`` if it names a column of :data:`USAGE_GROUPINGS`, else ``ValueError``.

    The result is interpolated into SQL as a column name, so this check is what keeps
    :meth:`Store.usage_totals` injection-free.
    """
    if by not in USAGE_GROUPINGS:
        raise ValueError(f"cannot group usage by {by!r}; expected one of {USAGE_GROUPINGS}")
    return by


def check_limit(limit: int) -> int:
    """``limit`` if it is a non-negative int, else ``ValueError``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, got {limit!r}")
    return limit


def coalesce_touches(last_used: Sequence[tuple[str, datetime]]) -> list[tuple[str, datetime]]:
    """One ``(key_id, latest time)`` per key, times in UTC, sorted by key id.

    Sorting gives every writer the same row-lock order (no deadlocks between relays).
    """
    latest: dict[str, datetime] = {}
    for key_id, when in last_used:
        when = require_aware(when, "last_used time")
        if key_id not in latest or when > latest[key_id]:
            latest[key_id] = when
    return sorted(latest.items())


def missing_parent(
    group_id: str, group_found: bool, user_id: str, user_found: bool
) -> NotFound | None:
    """The :class:`NotFound` to raise when a row names a missing group or user, if any."""
    if not group_found:
        return NotFound(f"no group with id {group_id!r}")
    if not user_found:
        return NotFound(f"no user with id {user_id!r}")
    return None


_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to log or put in an error).

    Deliberately cruder than a URL parser, so that malformed URLs (no scheme, an
    unencoded ``@`` or ``/`` in the password) are redacted too: everything between the
    first ``:`` of the user info and the last ``@`` goes.
    """
    scheme, sep, rest = url.partition("://")
    if not _URL_SCHEME.fullmatch(scheme):
        scheme, sep, rest = "", "", url
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


# -- rows to records ---------------------------------------------------------------------

USAGE_COLUMNS = tuple(field.name for field in fields(UsageRecord))


def user_from_row(row: Row) -> User:
    """The record of one ``users`` row (either backend)."""
    return User(
        id=row["id"],
        name=row["name"],
        is_operator=bool(row["is_operator"]),
        created_at=from_db_time(row["created_at"]),
    )


def group_from_row(row: Row) -> Group:
    """The record of one ``groups`` row (either backend)."""
    return Group(id=row["id"], name=row["name"], created_at=from_db_time(row["created_at"]))


def membership_from_row(row: Row) -> Membership:
    """The record of one ``memberships`` row (either backend)."""
    return Membership(
        group_id=row["group_id"],
        user_id=row["user_id"],
        role=Role(row["role"]),
        created_at=from_db_time(row["created_at"]),
    )


def api_key_from_row(row: Row) -> ApiKey:
    """The record of one ``api_keys`` row (either backend)."""
    return ApiKey(
        id=row["id"],
        prefix=row["prefix"],
        key_hash=row["key_hash"],
        user_id=row["user_id"],
        group_id=row["group_id"],
        name=row["name"],
        created_at=from_db_time(row["created_at"]),
        last_used_at=from_db_time_opt(row["last_used_at"]),
        revoked_at=from_db_time_opt(row["revoked_at"]),
    )


def node_from_row(row: Row) -> Node:
    """The record of one ``nodes`` row (either backend)."""
    return Node(
        id=row["id"],
        name=row["name"],
        group_id=row["group_id"],
        user_id=row["user_id"],
        token_hash=row["token_hash"],
        created_at=from_db_time(row["created_at"]),
        revoked_at=from_db_time_opt(row["revoked_at"]),
    )


def usage_from_row(row: Row) -> UsageRecord:
    """The record of one ``usage`` row (either backend)."""
    ttft = row["ttft_ms"]
    return UsageRecord(
        request_id=row["request_id"],
        time=from_db_time(row["time"]),
        key_id=row["key_id"],
        user_id=row["user_id"],
        group_id=row["group_id"],
        node_id=row["node_id"],
        model=row["model"],
        prompt_tokens=int(row["prompt_tokens"]),
        completion_tokens=int(row["completion_tokens"]),
        ttft_ms=None if ttft is None else float(ttft),
        duration_ms=float(row["duration_ms"]),
        status=int(row["status"]),
        error_code=row["error_code"],
        estimated=bool(row["estimated"]),
    )


def record_params(
    record: Any, time: Callable[[datetime], Any], flag: Callable[[bool], Any]
) -> tuple[Any, ...]:
    """The field values of a record dataclass, in declaration order, as query parameters.

    Every table lists its columns in the order its record declares its fields, so this
    is the parameter tuple of an INSERT of the whole record. ``time`` and ``flag``
    adapt datetimes (checked to be aware) and booleans to the backend's column types;
    enums become their values.
    """
    values: list[Any] = []
    for field in fields(record):
        value = getattr(record, field.name)
        if isinstance(value, datetime):
            value = time(require_aware(value, field.name))
        elif isinstance(value, bool):
            value = flag(value)
        elif isinstance(value, enum.Enum):
            value = value.value
        values.append(value)
    return tuple(values)


def usage_total_from_row(row: Row) -> UsageTotal:
    """The aggregate of one ``usage_totals`` result row (columns named like its fields)."""
    return UsageTotal(
        key=row["key"],
        requests=int(row["requests"]),
        prompt_tokens=int(row["prompt_tokens"]),
        completion_tokens=int(row["completion_tokens"]),
    )


def audit_from_row(row: Row) -> AuditEntry:
    """The record of one ``audit_log`` row (either backend)."""
    return AuditEntry(
        id=int(row["id"]),
        time=from_db_time(row["time"]),
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        detail=row["detail"],
    )


# -- migrations ------------------------------------------------------------------------------

_MIGRATION_NAME = re.compile(r"^(\d{4})_[A-Za-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One versioned schema step: ``NNNN_name.sql`` under ``migrations/<backend>/``."""

    version: int
    name: str
    sql: str


def load_migrations(backend: str) -> list[Migration]:
    """The packaged migrations of ``backend`` ("sqlite" or "postgres"), by version.

    Raises ``RuntimeError`` on a duplicate version number (two files racing for a slot).
    """
    folder = resources.files("storage").joinpath("migrations").joinpath(backend)
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise RuntimeError(f"duplicate {backend} migration version {version}")
        found[version] = Migration(version, entry.name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]
