"""API-key authentication end to end, with keys made by the real admin CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest

from tests.harness import RelayProc, wait_until


def cli(database_url: str, *args: str) -> dict[str, object]:
    """Run `llmcluster-relay --json ...` as a user would and parse its one JSON object."""
    done = subprocess.run(
        [sys.executable, "-m", "relay", "--database-url", database_url, "--json", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture
def cli_key(database_url: str) -> tuple[str, str]:
    """A key created through the CLI: (secret, id)."""
    cli(database_url, "init")
    cli(database_url, "group", "create", "friends")
    cli(database_url, "user", "add", "bob")
    cli(database_url, "member", "add", "--group", "friends", "--user", "bob")
    created = cli(
        database_url, "key", "create", "--user", "bob", "--group", "friends", "--name", "laptop"
    )
    assert str(created["key"]).startswith("llmc-")
    return str(created["key"]), str(created["id"])


def _post(relay: RelayProc, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        relay.url + "/v1/chat/completions",
        headers=headers,
        timeout=10,
        json={"model": "any", "messages": [{"role": "user", "content": "hi"}]},
    )


def _assert_openai_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    error: dict[str, object] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_health_and_readiness(start_relay: Callable[..., RelayProc]) -> None:
    relay = start_relay()
    assert httpx.get(relay.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(relay.url + "/readyz").json() == {"status": "ready"}


def test_valid_key_passes_auth_and_gets_no_nodes_503(
    cli_key: tuple[str, str], start_relay: Callable[..., RelayProc]
) -> None:
    relay = start_relay()
    secret, _ = cli_key
    response = _post(relay, {"Authorization": f"Bearer {secret}"})
    error = _assert_openai_error(response, 503)
    assert error["code"] == "no_nodes_available"
    assert response.headers["Retry-After"]
    client = openai.OpenAI(base_url=relay.url + "/v1", api_key=secret, max_retries=0)
    assert client.models.list().data == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer llmc-this-key-does-not-exist-anywhere-at-all"},
        {"Authorization": "Bearer sk-not-even-our-format"},
    ],
    ids=["none", "basic", "empty", "unknown", "foreign"],
)
def test_missing_malformed_and_unknown_keys_are_401(
    cli_key: tuple[str, str], start_relay: Callable[..., RelayProc], headers: dict[str, str]
) -> None:
    relay = start_relay()
    error = _assert_openai_error(_post(relay, headers), 401)
    assert error["type"] == "invalid_request_error"
    models = httpx.get(relay.url + "/v1/models", headers=headers)
    _assert_openai_error(models, 401)


def test_revoked_key_is_401(
    cli_key: tuple[str, str],
    database_url: str,
    start_relay: Callable[..., RelayProc],
    tmp_path: Path,
) -> None:
    relay = start_relay(settings={"key_cache_ttl_s": "0.2"})
    secret, key_id = cli_key
    assert _post(relay, {"Authorization": f"Bearer {secret}"}).status_code == 503
    cli(database_url, "key", "revoke", key_id)
    # revoked outside the relay: it stops working within the key cache's TTL
    wait_until(
        lambda: _post(relay, {"Authorization": f"Bearer {secret}"}).status_code == 401,
        timeout=5,
        what="the revocation to take effect",
    )
    error = _assert_openai_error(_post(relay, {"Authorization": f"Bearer {secret}"}), 401)
    assert error["code"] == "api_key_revoked"
    assert secret not in relay.output()
    assert secret not in json.dumps(error)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=relay.url + "/v1", api_key=secret, max_retries=0).models.list()
