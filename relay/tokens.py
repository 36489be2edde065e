"""Short-lived signed tokens (JWT, HS256 pinned) issued by the relay.

Two audiences: ``llmcluster-tunnel`` (an agent trades its node token for one before opening
its WebSocket) and ``llmcluster-admin`` (operator and group-admin access to the admin API).
The signing key is a random 32-byte secret kept in the store, so every relay sharing a
database verifies the others' tokens. Only HS256 is accepted: the algorithm is pinned, never
taken from the token's header.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

ALGORITHM = "HS256"
ISSUER = "llmcluster-relay"
TUNNEL_AUDIENCE = "llmcluster-tunnel"
ADMIN_AUDIENCE = "llmcluster-admin"
SIGNING_SECRET_NAME = "jwt-signing-key"  # noqa: S105 - the name of a secret


class InvalidToken(Exception):
    """A token that is malformed, forged, expired or meant for another audience."""


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str
    audience: str
    expires_at: int


def new_signing_secret() -> bytes:
    return secrets.token_bytes(32)


class TokenSigner:
    """Issues and verifies the relay's JWTs. Pure computation: safe anywhere, never blocks."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the signing secret must be at least 32 bytes")
        self._key = OctKey.import_key(secret)

    def issue(self, subject: str, audience: str, ttl_s: int) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "exp": now + ttl_s,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode({"alg": ALGORITHM}, claims, self._key, algorithms=[ALGORITHM])

    def verify(self, token: str, audience: str) -> VerifiedToken:
        """Check signature, algorithm, issuer, audience and expiry; :class:`InvalidToken` if not."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": ISSUER},
                aud={"essential": True, "value": audience},
                sub={"essential": True},
                exp={"essential": True},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise InvalidToken(type(exc).__name__) from None
        claims = decoded.claims
        return VerifiedToken(str(claims["sub"]), audience, int(claims["exp"]))
