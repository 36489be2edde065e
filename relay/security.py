"""Secrets: generating API keys and node tokens, hashing them, comparing in constant time.

Only SHA-256 hex digests reach the database. A key is looked up by its digest (an index
seek, so timing says nothing about other keys) and the stored digest is then compared with
:func:`hmac.compare_digest` as a second, constant-time check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "llmc-"
NODE_TOKEN_PREFIX = "llmcn-"  # noqa: S105 - a public prefix, not a secret
# How much of a secret may be shown (in `key list`, the console): the fixed prefix plus a
# few random characters, enough to tell keys apart, far too few to guess the rest.
VISIBLE_CHARS = 8


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of a secret, the only form in which it is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def digests_match(expected: str, actual: str) -> bool:
    """Constant-time equality of two hex digests."""
    return hmac.compare_digest(expected.encode("ascii"), actual.encode("ascii"))


def new_api_key() -> tuple[str, str, str]:
    """A fresh consumer key: ``(secret, visible prefix, digest)``.

    The ``llmc-`` prefix lets secret scanners recognise a leaked key.
    """
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, visible_prefix(secret), hash_secret(secret)


def new_node_token() -> tuple[str, str]:
    """A fresh node token: ``(secret, digest)``."""
    secret = NODE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def visible_prefix(secret: str) -> str:
    """The part of a secret that may be displayed."""
    head = API_KEY_PREFIX if secret.startswith(API_KEY_PREFIX) else ""
    return secret[: len(head) + VISIBLE_CHARS]


def looks_like_api_key(value: str) -> bool:
    """Cheap shape check before any lookup (rejects garbage without a database trip)."""
    return value.startswith(API_KEY_PREFIX) and 20 <= len(value) <= 200 and value.isascii()
