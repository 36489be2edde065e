"""The relay's JWTs: pinned algorithm, audience, expiry and signature all enforced."""

from __future__ import annotations

import base64
import json

import pytest

from relay.tokens import (
    ADMIN_AUDIENCE,
    TUNNEL_AUDIENCE,
    InvalidToken,
    TokenSigner,
    new_signing_secret,
)


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(new_signing_secret())


def _b64(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_round_trip(signer: TokenSigner) -> None:
    token = signer.issue("node-1", TUNNEL_AUDIENCE, 60)
    assert signer.verify(token, TUNNEL_AUDIENCE).subject == "node-1"


def test_wrong_audience(signer: TokenSigner) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(signer.issue("u", ADMIN_AUDIENCE, 60), TUNNEL_AUDIENCE)


def test_expired(signer: TokenSigner) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(signer.issue("u", TUNNEL_AUDIENCE, -1), TUNNEL_AUDIENCE)


def test_other_key(signer: TokenSigner) -> None:
    token = TokenSigner(new_signing_secret()).issue("u", TUNNEL_AUDIENCE, 60)
    with pytest.raises(InvalidToken):
        signer.verify(token, TUNNEL_AUDIENCE)


def test_alg_none_is_refused(signer: TokenSigner) -> None:
    claims = {"iss": "llmcluster-relay", "aud": TUNNEL_AUDIENCE, "sub": "u", "exp": 2**40}
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(InvalidToken):
        signer.verify(forged, TUNNEL_AUDIENCE)


def test_garbage(signer: TokenSigner) -> None:
    with pytest.raises(InvalidToken):
        signer.verify("not.a.jwt", TUNNEL_AUDIENCE)


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        TokenSigner(b"short")
