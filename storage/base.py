"""The abstract store: every persistent operation the relay needs, one method each.

Backends (``storage.sqlite``, ``storage.postgres``) implement :class:`Store`; callers
get one from :func:`storage.open_store` and never import a backend directly.

Conventions shared by every backend:

* Ids are opaque text (``uuid4().hex`` unless noted), times are timezone-aware UTC
  ``datetime`` objects.
* Secrets (API keys, node tokens) never reach the store: only their SHA-256 hex digests.
* Lookups that may miss return ``None``; writes that violate a uniqueness rule raise
  :class:`Conflict`; writes that name a missing parent raise :class:`NotFound`.
* Every method is a coroutine and is safe to cancel: a cancelled write either committed
  fully or not at all (each runs in its own transaction).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.accounting import AccountingStore


class StoreError(Exception):
    """Base class of the errors a store raises on purpose."""


class Conflict(StoreError):
    """A uniqueness rule was violated (e.g. a group name that already exists)."""


class NotFound(StoreError):
    """A write named a row that does not exist (e.g. a key for an unknown group)."""


class Role(enum.StrEnum):
    """A member's role in a group, from most to least powerful."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    is_operator: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Membership:
    group_id: str
    user_id: str
    role: Role
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A consumer key. ``prefix`` is the visible head of the secret (safe to show)."""

    id: str
    prefix: str
    key_hash: str
    user_id: str
    group_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class Node:
    """A GPU rig allowed to open a tunnel. ``token_hash`` is SHA-256 of its node token."""

    id: str
    name: str
    group_id: str
    user_id: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One request as accounted. ``ttft_ms``/``duration_ms`` are milliseconds."""

    request_id: str
    time: datetime
    key_id: str | None
    user_id: str | None
    group_id: str | None
    node_id: str | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float | None
    duration_ms: float
    status: int
    error_code: str | None = None
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """An aggregate row of :meth:`Store.usage_totals`; ``key`` is the grouping value."""

    key: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    time: datetime
    actor: str
    action: str
    target: str
    detail: str


USAGE_GROUPINGS = ("key_id", "user_id", "group_id", "node_id", "model")


class Store(AccountingStore):
    """The persistent state of a relay. One instance is shared by the whole process.

    Rate limits, model aliases and usage flows are declared in
    :class:`~storage.accounting.AccountingStore`.
    """

    # -- lifecycle -------------------------------------------------------------

    @abc.abstractmethod
    async def migrate(self) -> int:
        """Apply pending schema migrations in order; return the schema version now in force.

        Idempotent and safe to run from several processes at once (the backend serialises).
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. The store is unusable afterwards."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Round-trip a trivial query; raise if the database is unreachable (``/readyz``)."""

    # -- secrets ---------------------------------------------------------------

    @abc.abstractmethod
    async def get_or_create_secret(self, name: str, value: bytes) -> bytes:
        """Return the relay secret ``name``, storing ``value`` first if none exists yet.

        Used for the JWT signing key, so every relay sharing the database agrees on it.
        """

    # -- users -----------------------------------------------------------------

    @abc.abstractmethod
    async def create_user(self, name: str, *, is_operator: bool = False) -> User:
        """Create a user; :class:`Conflict` if the name is taken."""

    @abc.abstractmethod
    async def get_user(self, user_id: str) -> User | None: ...

    @abc.abstractmethod
    async def get_user_by_name(self, name: str) -> User | None: ...

    @abc.abstractmethod
    async def list_users(self) -> list[User]:
        """All users, ordered by name."""

    # -- groups and memberships --------------------------------------------------

    @abc.abstractmethod
    async def create_group(self, name: str) -> Group:
        """Create a group; :class:`Conflict` if the name is taken."""

    @abc.abstractmethod
    async def get_group(self, group_id: str) -> Group | None: ...

    @abc.abstractmethod
    async def get_group_by_name(self, name: str) -> Group | None: ...

    @abc.abstractmethod
    async def list_groups(self) -> list[Group]:
        """All groups, ordered by name."""

    @abc.abstractmethod
    async def rename_group(self, group_id: str, new_name: str) -> Group:
        """Rename; :class:`NotFound` if missing, :class:`Conflict` if the name is taken."""

    @abc.abstractmethod
    async def delete_group(self, group_id: str) -> bool:
        """Delete a group with its memberships, keys and nodes; False if it did not exist.

        Usage records keep their ids (history outlives the group).
        """

    @abc.abstractmethod
    async def add_member(self, group_id: str, user_id: str, role: Role) -> Membership:
        """Add a user to a group; :class:`Conflict` if already a member, :class:`NotFound`
        if the group or the user does not exist."""

    @abc.abstractmethod
    async def set_member_role(self, group_id: str, user_id: str, role: Role) -> Membership:
        """Change a member's role; :class:`NotFound` if not a member."""

    @abc.abstractmethod
    async def remove_member(self, group_id: str, user_id: str) -> bool:
        """Remove a membership; False if there was none."""

    @abc.abstractmethod
    async def get_membership(self, group_id: str, user_id: str) -> Membership | None: ...

    @abc.abstractmethod
    async def list_members(self, group_id: str) -> list[Membership]:
        """Memberships of a group, ordered by creation."""

    @abc.abstractmethod
    async def list_memberships_of_user(self, user_id: str) -> list[Membership]: ...

    # -- API keys ----------------------------------------------------------------

    @abc.abstractmethod
    async def create_api_key(
        self, *, prefix: str, key_hash: str, user_id: str, group_id: str, name: str
    ) -> ApiKey:
        """Store a new key by hash; :class:`NotFound` for an unknown user or group,
        :class:`Conflict` for a duplicate hash."""

    @abc.abstractmethod
    async def get_api_key(self, key_id: str) -> ApiKey | None: ...

    @abc.abstractmethod
    async def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key whose SHA-256 hex digest is ``key_hash`` (revoked ones included)."""

    @abc.abstractmethod
    async def list_api_keys(
        self, *, group_id: str | None = None, user_id: str | None = None
    ) -> list[ApiKey]:
        """Keys filtered by group and/or user, ordered by creation."""

    @abc.abstractmethod
    async def revoke_api_key(self, key_id: str) -> bool:
        """Mark a key revoked; False if it does not exist or was already revoked."""

    @abc.abstractmethod
    async def touch_api_keys(self, last_used: Sequence[tuple[str, datetime]]) -> None:
        """Record last-used times in one batch (the relay coalesces them off the hot path)."""

    # -- nodes -------------------------------------------------------------------

    @abc.abstractmethod
    async def create_node(self, *, name: str, group_id: str, user_id: str, token_hash: str) -> Node:
        """Register a node; :class:`Conflict` if the group already has a live node with
        that name, :class:`NotFound` for an unknown group or user."""

    @abc.abstractmethod
    async def get_node(self, node_id: str) -> Node | None: ...

    @abc.abstractmethod
    async def get_node_by_token_hash(self, token_hash: str) -> Node | None:
        """The node whose token hashes to ``token_hash`` (revoked ones included)."""

    @abc.abstractmethod
    async def list_nodes(self, *, group_id: str | None = None) -> list[Node]:
        """Nodes, optionally of one group, ordered by creation."""

    @abc.abstractmethod
    async def revoke_node(self, node_id: str) -> bool:
        """Mark a node revoked; False if it does not exist or was already revoked."""

    # -- usage -------------------------------------------------------------------

    @abc.abstractmethod
    async def record_usage(self, records: Sequence[UsageRecord]) -> None:
        """Append usage records in one transaction (a batch from the relay's writer).

        A duplicate ``request_id`` is ignored, so a retried flush never double-counts.
        """

    @abc.abstractmethod
    async def list_usage(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        group_id: str | None = None,
        limit: int = 1000,
    ) -> list[UsageRecord]:
        """Raw records in ``[since, until)``, newest first."""

    @abc.abstractmethod
    async def usage_totals(
        self,
        by: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        group_id: str | None = None,
    ) -> list[UsageTotal]:
        """Sums grouped by one of :data:`USAGE_GROUPINGS`, largest total tokens first.

        ``by`` is checked against that list (it names a column, so it is never taken
        from a caller unchecked); anything else raises ``ValueError``.
        """

    # -- audit -------------------------------------------------------------------

    @abc.abstractmethod
    async def audit(self, actor: str, action: str, target: str, detail: str = "") -> None:
        """Append an audit record (who did what to which object)."""

    @abc.abstractmethod
    async def list_audit(self, *, limit: int = 100) -> list[AuditEntry]:
        """The newest audit records first."""
