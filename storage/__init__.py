"""Persistent state of the relay: users, groups, keys, nodes, usage, limits, aliases, audit.

Callers open a :class:`Store` with :func:`open_store` and never import a backend
directly; the backend (and its driver) is imported only when its URL scheme is used,
so a SQLite deployment never loads asyncpg and vice versa.
"""

from __future__ import annotations

import re

from storage._common import redact_url
from storage.accounting import LimitScope, ModelAlias, RateLimit, UsageFlow
from storage.base import (
    USAGE_GROUPINGS,
    ApiKey,
    AuditEntry,
    Conflict,
    Group,
    Membership,
    Node,
    NotFound,
    Role,
    Store,
    StoreError,
    UsageRecord,
    UsageTotal,
    User,
)

__all__ = [
    "USAGE_GROUPINGS",
    "ApiKey",
    "AuditEntry",
    "Conflict",
    "Group",
    "LimitScope",
    "Membership",
    "ModelAlias",
    "Node",
    "NotFound",
    "RateLimit",
    "Role",
    "Store",
    "StoreError",
    "UsageFlow",
    "UsageRecord",
    "UsageTotal",
    "User",
    "open_store",
]


def _sqlite_path(url: str) -> str:
    """The file path in a ``sqlite://`` URL (``":memory:"`` for an in-memory database).

    ``sqlite:///data/relay.db`` is relative to the working directory,
    ``sqlite:////var/lib/relay.db`` is absolute, ``sqlite://:memory:`` is in memory.
    """
    rest = url[len("sqlite://") :]
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    if not rest.startswith("/") or rest == "/":
        raise ValueError(
            f"a SQLite URL needs a path, e.g. sqlite:///data/relay.db, got {redact_url(url)!r}"
        )
    return rest[1:]


async def open_store(url: str) -> Store:
    """Open the store at ``url`` and bring its schema up to date.

    Schemes: ``sqlite://`` (see :func:`_sqlite_path`), ``postgresql://`` and
    ``postgres://`` (any libpq-style URL asyncpg accepts). Anything else raises
    ``ValueError`` (the message never contains the URL's password). Safe to cancel: a
    store that was opened is closed again before the cancellation propagates.
    """
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        scheme = ""  # not a scheme at all (and maybe part of a password): don't echo it
    store: Store
    if scheme == "sqlite":
        from storage.sqlite import SqliteStore

        store = await SqliteStore.open(_sqlite_path(url))
    elif scheme in ("postgresql", "postgres"):
        from storage.postgres import PostgresStore

        store = await PostgresStore.open(url)
    else:
        raise ValueError(
            f"unsupported store URL scheme {scheme!r} in {redact_url(url)!r}:"
            " use sqlite:///path/to/file.db or postgresql://user@host/db"
        )
    try:
        await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store
