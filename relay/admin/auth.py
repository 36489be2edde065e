"""Who is calling the admin API, and what they may see and manage.

An admin request carries ``Authorization: Bearer <admin JWT>`` (issued by the relay, e.g.
``llmcluster-relay token create --user U``; never in the URL). The token's subject is a
user id; that user must be the operator (sees and manages everything) or an owner/admin of
at least one group (sees and manages those groups only). Everyone else gets 403.

Browsers send an ``Origin`` header; one that is not in ``admin_allowed_origins`` is
refused, so a web page cannot drive the admin API with a token it got hold of. Clients
that send no Origin (the console, scripts) are allowed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from relay.admin.errors import AdminError, forbidden
from relay.state import RelayState
from relay.tokens import ADMIN_AUDIENCE, InvalidToken
from storage import Role, User

MANAGING_ROLES = frozenset({Role.OWNER, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Admin:
    """An authenticated operator or group admin, as of the last (re)load."""

    user: User
    roles: Mapping[str, Role] = field(default_factory=dict)  # group id -> owner/admin
    expires_at: int = 0

    @property
    def is_operator(self) -> bool:
        return self.user.is_operator

    @property
    def actor(self) -> str:
        """The audit actor of this admin's commands."""
        return f"user:{self.user.name}"

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at

    def manages(self, group_id: str | None) -> bool:
        """True for the operator, or for an owner/admin of ``group_id``."""
        return self.is_operator or (group_id is not None and group_id in self.roles)

    def is_owner(self, group_id: str) -> bool:
        return self.is_operator or self.roles.get(group_id) == Role.OWNER

    def describe(self) -> dict[str, object]:
        """The ``me`` object of the snapshot and of ``GET /admin/api/me``."""
        return {
            "user_id": self.user.id,
            "name": self.user.name,
            "role": "operator" if self.is_operator else "group_admin",
            "groups": {gid: role.value for gid, role in sorted(self.roles.items())},
            "expires_at": self.expires_at,
        }


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def check_origin(state: RelayState, origin: str | None) -> None:
    """403 for a browser origin not in ``admin_allowed_origins``; no Origin is fine."""
    if origin is None:
        return
    allowed = {o.rstrip("/") for o in state.settings.admin_allowed_origins}
    if origin.rstrip("/") not in allowed:
        raise AdminError(
            403,
            "This origin may not use the admin API (see admin_allowed_origins).",
            code="origin_not_allowed",
        )


async def authenticate(state: RelayState, authorization: str | None) -> Admin:
    """Check the admin token and load the caller's rights. Safe to cancel (reads only)."""
    token = bearer(authorization)
    if token is None:
        raise AdminError(
            401,
            "An admin token is required as 'Authorization: Bearer <token>' "
            "(make one with 'llmcluster-relay token create --user NAME').",
            code="missing_admin_token",
        )
    try:
        verified = state.signer.verify(token, ADMIN_AUDIENCE)
    except InvalidToken:
        raise AdminError(
            401, "The admin token is invalid or has expired.", code="invalid_admin_token"
        ) from None
    user = await state.store.get_user(verified.subject)
    if user is None:
        raise AdminError(401, "The admin token's user no longer exists.", code="unknown_user")
    return await load_rights(state, user, verified.expires_at)


async def load_rights(state: RelayState, user: User, expires_at: int) -> Admin:
    """The caller's current rights; 403 if they manage nothing (any more)."""
    memberships = await state.store.list_memberships_of_user(user.id)
    roles = {m.group_id: m.role for m in memberships if m.role in MANAGING_ROLES}
    if not user.is_operator and not roles:
        raise forbidden(f"User {user.name!r} is neither the operator nor an admin of any group.")
    return Admin(user, roles, expires_at)


async def reload(state: RelayState, admin: Admin) -> Admin:
    """Re-read the caller's user and memberships (rights can change mid-session)."""
    if admin.expired:
        raise AdminError(401, "The admin token has expired.", code="invalid_admin_token")
    user = await state.store.get_user(admin.user.id)
    if user is None:
        raise AdminError(401, "The admin token's user no longer exists.", code="unknown_user")
    return await load_rights(state, user, admin.expires_at)
