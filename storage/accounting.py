"""The store's accounting surface: rate limits, model aliases and usage flows.

Split from :mod:`storage.base` to keep modules small; :class:`storage.base.Store` inherits
:class:`AccountingStore`, so callers see one interface. The conventions of
:mod:`storage.base` hold here too (aware UTC times, :class:`~storage.base.NotFound` for a
missing parent, every method a coroutine that is safe to cancel).

Rate limits are rows of ``rate_limits``, one per ``(group_id, scope, subject_id)``:

* ``scope="group"``, ``subject_id=group_id``: the whole group's limits (all its keys
  together);
* ``scope="default"``, ``subject_id=group_id``: the limits of each key and each user of
  the group that has no row of its own, value by value (a key row that sets only ``rpm``
  still gets the default ``tpm``);
* ``scope="user"``, ``subject_id=<user id>``: one member's limits, over all their keys
  in this group;
* ``scope="key"``, ``subject_id=<key id>``: one API key's limits.

``rpm`` (requests per minute), ``tpm`` (prompt + completion tokens per minute) and
``max_concurrent`` are positive integers, or ``None`` for "not set" (unlimited unless a
default applies).
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from datetime import datetime


class LimitScope(enum.StrEnum):
    """What a rate-limit row applies to (see the module docstring)."""

    GROUP = "group"
    DEFAULT = "default"
    USER = "user"
    KEY = "key"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One stored rate-limit row; ``None`` values are "not set"."""

    group_id: str
    scope: LimitScope
    subject_id: str
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ModelAlias:
    """A group's name for one or more backend models (the scheduler picks among them)."""

    group_id: str
    alias: str
    targets: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UsageFlow:
    """Usage of one group between one consumer and one provider (a node's owner).

    ``provider_user_id`` is ``None`` when the node is no longer known to the store.
    """

    consumer_user_id: str | None
    provider_user_id: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class AccountingStore(abc.ABC):
    """Abstract methods for limits, aliases and usage flows (part of :class:`Store`)."""

    # -- rate limits -------------------------------------------------------------------

    @abc.abstractmethod
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
        """Create or replace the row ``(group_id, scope, subject_id)`` with these values.

        ``ValueError`` for a value that is not a positive int or ``None``, or a group or
        default row whose ``subject_id`` is not ``group_id``; :class:`NotFound` for an
        unknown group. The subject of a user or key row is not checked (the caller does).
        """

    @abc.abstractmethod
    async def list_rate_limits(self, group_id: str) -> list[RateLimit]:
        """The group's rows: group, default, user rows, key rows; by subject id within each."""

    @abc.abstractmethod
    async def delete_rate_limit(self, group_id: str, scope: LimitScope, subject_id: str) -> bool:
        """Delete one row; False if there was none."""

    # -- model aliases -----------------------------------------------------------------

    @abc.abstractmethod
    async def set_alias(self, group_id: str, alias: str, targets: tuple[str, ...]) -> ModelAlias:
        """Create an alias or replace its targets (``created_at`` is kept on replace).

        ``ValueError`` for an empty alias or target list, or an empty target name;
        :class:`NotFound` for an unknown group. Duplicate targets are dropped (first wins).
        """

    @abc.abstractmethod
    async def delete_alias(self, group_id: str, alias: str) -> bool:
        """Delete an alias; False if there was none."""

    @abc.abstractmethod
    async def list_aliases(self, group_id: str) -> list[ModelAlias]:
        """The group's aliases, ordered by alias (code point order)."""

    # -- usage flows ---------------------------------------------------------------------

    @abc.abstractmethod
    async def usage_flows(
        self,
        group_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[UsageFlow]:
        """Usage of ``group_id`` in ``[since, until)`` summed per (consumer user, owner of
        the node that served it); requests no node served are left out. Ordered by
        consumer, then provider (``None`` last). The basis of the mutual-aid ledger."""
