"""How the agent reaches the relay: derived URLs, the plain-text guard, backoff."""

from __future__ import annotations

import pytest

from agent.endpoints import TunnelConfigError, backoff_delay, relay_endpoints
from agent.forward import backend_url


@pytest.mark.parametrize(
    "base, token, tunnel",
    [
        (
            "https://relay.example",
            "https://relay.example/tunnel/token",
            "wss://relay.example/tunnel/ws",
        ),
        (
            "https://relay.example:8443/llm/",
            "https://relay.example:8443/llm/tunnel/token",
            "wss://relay.example:8443/llm/tunnel/ws",
        ),
        (
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/tunnel/token",
            "ws://127.0.0.1:8080/tunnel/ws",
        ),
        (
            "http://localhost:8080",
            "http://localhost:8080/tunnel/token",
            "ws://localhost:8080/tunnel/ws",
        ),
        ("http://[::1]:8080", "http://[::1]:8080/tunnel/token", "ws://[::1]:8080/tunnel/ws"),
    ],
)
def test_endpoints_from_the_consumer_base_url(base: str, token: str, tunnel: str) -> None:
    endpoints = relay_endpoints(base)
    assert (endpoints.token_url, endpoints.tunnel_url) == (token, tunnel)


def test_plain_http_to_a_remote_relay_needs_insecure() -> None:
    with pytest.raises(TunnelConfigError, match="unencrypted"):
        relay_endpoints("http://relay.example:8080")
    assert relay_endpoints("http://relay.example:8080", insecure=True).tunnel_url == (
        "ws://relay.example:8080/tunnel/ws"
    )


@pytest.mark.parametrize(
    "bad", ["ftp://relay", "relay.example", "https://u:p@relay", "https://relay/?x=1"]
)
def test_unusable_relay_urls(bad: str) -> None:
    with pytest.raises(TunnelConfigError):
        relay_endpoints(bad)


def test_backoff_doubles_to_thirty_seconds_with_jitter() -> None:
    assert [backoff_delay(n, lambda: 1.0) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay(0, lambda: 0.0) == 0.5
    assert backoff_delay(100, lambda: 0.0) == 15


@pytest.mark.parametrize(
    "root, route, url",
    [
        (
            "http://127.0.0.1:8000",
            "/v1/chat/completions",
            "http://127.0.0.1:8000/v1/chat/completions",
        ),
        ("http://127.0.0.1:8000/", "/v1/models", "http://127.0.0.1:8000/v1/models"),
        ("http://host/proxy", "/v1/embeddings", "http://host/proxy/v1/embeddings"),
    ],
)
def test_backend_urls_are_built_by_parsing(root: str, route: str, url: str) -> None:
    assert backend_url(root, route) == url


@pytest.mark.parametrize(
    "route", ["//evil.example/x", "/v1/x?redirect=http://evil", "http://evil/v1", "/v1/x#frag"]
)
def test_backend_urls_refuse_anything_but_a_path(route: str) -> None:
    with pytest.raises(ValueError):
        backend_url("http://127.0.0.1:8000", route)
