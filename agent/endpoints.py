"""Where the agent finds its relay, and how long it waits before trying again.

Pure functions: the tunnel and token URLs derived from the relay's base URL (with the
guard against sending a node token over a network in clear text) and the reconnect backoff.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0


class TunnelConfigError(ValueError):
    """The relay URL is unusable as given (e.g. plain ws:// to a remote host)."""


@dataclass(frozen=True, slots=True)
class RelayEndpoints:
    token_url: str
    tunnel_url: str


def relay_endpoints(relay_url: str, *, insecure: bool = False) -> RelayEndpoints:
    """The token and tunnel URLs of a relay from its base URL as consumers know it.

    ``https://relay.example`` -> ``wss://relay.example/tunnel/ws``; plain ``http://`` is
    accepted only for a loopback host unless ``insecure`` (a node token must not cross a
    network in clear text).
    """
    parts = urlsplit(relay_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise TunnelConfigError(f"relay URL must be http(s)://host[:port], got {relay_url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise TunnelConfigError("relay URL must not carry credentials, a query or a fragment")
    if scheme == "ws" and not insecure and not _is_loopback(parts.hostname):
        raise TunnelConfigError(
            f"refusing an unencrypted connection to {parts.hostname}: use https:// "
            "(or pass --insecure on a network you trust)"
        )
    base = parts.path.rstrip("/")
    http_scheme = "https" if scheme == "wss" else "http"
    return RelayEndpoints(
        token_url=urlunsplit((http_scheme, parts.netloc, base + "/tunnel/token", "", "")),
        tunnel_url=urlunsplit((scheme, parts.netloc, base + "/tunnel/ws", "", "")),
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def backoff_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): 1 s doubling to 30 s, each
    scaled by a random factor in [0.5, 1) so a relay restart is not met by a stampede."""
    base = min(BACKOFF_MAX_S, BACKOFF_START_S * 2 ** min(attempt, 16))
    return base * (0.5 + rng() / 2)
