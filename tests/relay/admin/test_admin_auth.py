"""Who may use the admin API: a relay-issued admin JWT in the Authorization header, of
the operator or a group owner/admin; browsers only from an allowed Origin."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import httpx
import pytest

from relay.tokens import TUNNEL_AUDIENCE, TokenSigner
from storage import open_store
from tests.harness import RelayProc, run_async
from tests.relay.admin.support import World, api, error_of, issue_token, open_socket


def test_rest_needs_an_admin_token(admin_relay: RelayProc, world: World) -> None:
    error = error_of(api(admin_relay.url, None).get("/me"), 401)
    assert error["code"] == "missing_admin_token"
    assert "token create" in str(error["message"])
    error = error_of(api(admin_relay.url, "not-a-jwt").get("/me"), 401)
    assert error["code"] == "invalid_admin_token"
    # A consumer API key is not an admin token either.
    error_of(api(admin_relay.url, world.keys["laptop"][1]).get("/me"), 401)


def test_a_tunnel_token_is_not_an_admin_token(admin_relay: RelayProc, world: World) -> None:
    async def tunnel_jwt() -> str:
        store = await open_store(world.database_url)
        try:
            from relay.tokens import SIGNING_SECRET_NAME

            secret = await store.get_or_create_secret(SIGNING_SECRET_NAME, b"x" * 32)
        finally:
            await store.close()
        return TokenSigner(secret).issue(world.users["root"], TUNNEL_AUDIENCE, 60)

    error = error_of(api(admin_relay.url, run_async(tunnel_jwt)).get("/me"), 401)
    assert error["code"] == "invalid_admin_token"


def test_only_the_operator_and_group_admins_get_in(admin_relay: RelayProc, world: World) -> None:
    root = api(admin_relay.url, world.tokens["root"]).get("/me").json()["me"]
    assert root["role"] == "operator" and root["name"] == "root"
    alice = api(admin_relay.url, world.tokens["alice"]).get("/me").json()["me"]
    assert alice["role"] == "group_admin"
    assert alice["groups"] == {world.groups["friends"]: "owner"}
    carol = api(admin_relay.url, world.tokens["carol"]).get("/me").json()["me"]
    assert carol["groups"] == {world.groups["others"]: "admin"}
    error = error_of(api(admin_relay.url, world.tokens["bob"]).get("/me"), 403)
    assert "bob" in str(error["message"])


def test_a_token_of_a_deleted_user_is_refused(admin_relay: RelayProc, world: World) -> None:
    async def ghost() -> str:
        store = await open_store(world.database_url)
        try:
            return await issue_token(store, "no-such-user")
        finally:
            await store.close()

    error_of(api(admin_relay.url, run_async(ghost)).get("/me"), 401)


def test_a_token_in_the_url_is_not_accepted(admin_relay: RelayProc, world: World) -> None:
    response = httpx.get(admin_relay.url + f"/admin/api/me?token={world.tokens['root']}")
    error_of(response, 401)


async def test_socket_handshake_needs_a_token(admin_relay: RelayProc, world: World) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await open_socket(admin_relay.url, None)
    assert refused.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await open_socket(admin_relay.url, world.tokens["bob"])
    assert refused.value.status == 403
    sock = await open_socket(admin_relay.url, world.tokens["alice"])
    try:
        assert (await sock.next())["type"] == "snapshot"
    finally:
        await sock.close()


async def test_browser_origins_must_be_allowed(
    world: World, start_relay: Callable[..., RelayProc]
) -> None:
    relay = start_relay(settings={"admin_allowed_origins": "https://admin.example"})
    token = world.tokens["root"]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await open_socket(relay.url, token, Origin="https://evil.example")
    assert refused.value.status == 403
    error = error_of(api(relay.url, token, Origin="https://evil.example").get("/me"), 403)
    assert error["code"] == "origin_not_allowed"
    sock = await open_socket(relay.url, token, Origin="https://admin.example")
    try:
        assert (await sock.next())["type"] == "snapshot"
    finally:
        await sock.close()
    # No Origin at all (the console, scripts): allowed.
    assert api(relay.url, token).get("/me").status_code == 200
