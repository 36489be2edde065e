"""API-key authentication for ``/v1/*``, with a small cache in front of the store.

The hot path (every consumer request) must not cost a database round trip, so verified
keys are cached by digest for ``ttl_s`` seconds. A key revoked through the relay is
dropped from the cache at once (:meth:`KeyAuthenticator.forget`); one revoked directly in
the database (the CLI) stops working within ``ttl_s``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from relay.security import digests_match, hash_secret, looks_like_api_key
from storage import ApiKey, Store

# Unknown keys are remembered briefly so a client retrying with a bad key does not turn
# into one database query per attempt; short, so a key created meanwhile works soon.
NEGATIVE_TTL_S = 1.0


class AuthError(Exception):
    """Authentication failed; ``str()`` is safe to show the client (no secret in it)."""

    def __init__(self, message: str, code: str = "invalid_api_key") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key and what it grants access to."""

    key_id: str
    key_name: str
    user_id: str
    group_id: str


class KeyAuthenticator:
    """Resolves ``Authorization`` headers to principals. One per relay process."""

    def __init__(self, store: Store, *, ttl_s: float = 5.0) -> None:
        self._store = store
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._last_used: dict[str, datetime] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        """Check a bearer header; :class:`AuthError` when missing, malformed, unknown or revoked.

        Safe to cancel: it only reads.
        """
        if not authorization:
            raise AuthError(
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
            )
        scheme, _, secret = authorization.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise AuthError("Malformed Authorization header: expected 'Bearer <key>'.")
        if not looks_like_api_key(secret):
            raise AuthError("Incorrect API key provided.")
        digest = hash_secret(secret)
        key = await self._lookup(digest)
        if key is None or not digests_match(key.key_hash, digest):
            raise AuthError("Incorrect API key provided.")
        if key.revoked:
            raise AuthError("This API key has been revoked.", code="api_key_revoked")
        self._last_used[key.id] = datetime.now(UTC)
        return Principal(key.id, key.name, key.user_id, key.group_id)

    async def _lookup(self, digest: str) -> ApiKey | None:
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = await self._store.get_api_key_by_hash(digest)
        ttl = self._ttl if key is not None else min(self._ttl, NEGATIVE_TTL_S)
        if ttl > 0:
            self._cache[digest] = (now + ttl, key)
        return key

    def forget(self, key_id: str | None = None) -> None:
        """Drop cached entries (one key, or all) so the next request re-reads the store."""
        if key_id is None:
            self._cache.clear()
            return
        for digest, (_, key) in list(self._cache.items()):
            if key is not None and key.id == key_id:
                del self._cache[digest]

    async def flush_last_used(self) -> None:
        """Write the batched last-used times (called periodically, off the request path)."""
        if not self._last_used:
            return
        batch, self._last_used = list(self._last_used.items()), {}
        await self._store.touch_api_keys(batch)
        expired = time.monotonic()
        self._cache = {d: v for d, v in self._cache.items() if v[0] > expired}
