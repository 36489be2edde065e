"""Shared pieces of ``llmcluster-relay``'s admin commands: errors, results, names, output.

Commands return a :class:`Result` (one JSON object plus its human rendering) instead of
printing, so ``--json`` always yields exactly one object on stdout. Expected failures are
raised as :class:`CliError` and shown by :func:`relay.cli.main` as one line on stderr.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from storage.base import Group, Store, User

PROG = "llmcluster-relay"


class CliError(Exception):
    """An expected failure: printed as ``llmcluster-relay: error: <message>``, exit 1."""


@dataclass(slots=True)
class Result:
    """What a command reports: ``data`` for ``--json``, ``text`` lines for people."""

    data: dict[str, Any]
    text: list[str] = field(default_factory=list)


def actor() -> str:
    """The audit actor of this invocation: ``cli:<login name>``."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError, ImportError):
        name = os.environ.get("USER") or "unknown"
    return f"cli:{name}"


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL (``sqlite:////abs`` or ``sqlite:///rel``).

    ``None`` for other schemes and for in-memory databases.
    """
    if not url.startswith("sqlite://"):
        return None
    rest = url.removeprefix("sqlite://").split("?", 1)[0]
    rest = rest[1:] if rest.startswith("/") else rest
    if not rest or rest == ":memory:":
        return None
    return Path(rest)


def redact(url: str) -> str:
    """``url`` with any password masked, safe to print."""
    from config.errors import redact_url

    return redact_url(url)


def prepare_database(url: str, *, create: bool) -> None:
    """Check (or, with ``create``, make) the folder of a SQLite database before opening it.

    Unless ``create`` is set, a missing SQLite file is an error rather than a fresh,
    empty database (a mistyped ``--data-dir`` should not look like an empty relay).
    A created folder is private (0700): the database holds the token signing key.
    """
    path = sqlite_path(url)
    if path is None:
        return
    if create:
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
    elif not path.exists():
        raise CliError(f"no database at {path}; run '{PROG} init' first")


@asynccontextmanager
async def opened_store(url: str) -> AsyncIterator[Store]:
    """Open (and migrate) the store at ``url``; close it on the way out."""
    import storage

    try:
        store = await storage.open_store(url)
    except Exception as exc:  # any failure to reach the database is the user's to fix
        reason = str(exc) or type(exc).__name__
        raise CliError(f"cannot open database {redact(url)}: {reason}") from None
    try:
        yield store
    finally:
        await store.close()


async def group_named(store: Store, name: str) -> Group:
    """The group called ``name``; :class:`CliError` if there is none."""
    group = await store.get_group_by_name(name)
    if group is None:
        raise CliError(f"no group named {name!r}")
    return group


async def user_named(store: Store, name: str) -> User:
    """The user called ``name``; :class:`CliError` if there is none."""
    user = await store.get_user_by_name(name)
    if user is None:
        raise CliError(f"no user named {name!r}")
    return user


async def operator_user(store: Store) -> User | None:
    """The first operator user, if the relay has been initialised."""
    return next((u for u in await store.list_users() if u.is_operator), None)


def iso(value: datetime | None) -> str | None:
    """A time for JSON output (ISO 8601, UTC) or ``None``."""
    return None if value is None else value.isoformat()


def short_time(value: datetime | None) -> str:
    """A time for tables: ``YYYY-MM-DD HH:MM`` UTC, ``-`` when unset."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> list[str]:
    """Left-aligned columns under upper-case headers; ``empty`` when there are no rows."""
    if not rows:
        return [empty]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [[h.upper() for h in headers], *rows]
    return [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def check_name(kind: str, value: str) -> str:
    """``value`` if it is a valid name for a new ``kind`` (group, user, key, node)."""
    if not _NAME.fullmatch(value):
        raise CliError(
            f"invalid {kind} name {value!r}: use 1-64 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit"
        )
    return value
