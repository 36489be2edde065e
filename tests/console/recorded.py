"""A fixed relay state in the admin socket's wire format, for the console's snapshot tests.

Everything here is what ``/admin/ws`` would send an operator (a ``snapshot`` frame) and
what the ``usage`` command would answer, with fixed ids and times, so the screenshots do
not change from run to run. :class:`RecordedClient` plays it to the app in place of
:class:`console.client.AdminClient`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

from console.client import AdminApiError, ClientEvent, Connected, Connecting, Received

T0 = "2025-03-14T09:26:53+00:00"
FRIENDS, LAB = "g-friends", "g-lab"


def _gpu(index: int, name: str, util: float, used: int, total: int, temp: int, power: int):  # type: ignore[no-untyped-def]
    return {
        "index": index,
        "name": name,
        "vendor": "nvidia",
        "utilization_pct": util,
        "memory_used_mb": used,
        "memory_total_mb": total,
        "temperature_c": temp,
        "power_w": power,
    }


def _history(phase: float, samples: int = 90) -> dict[str, list[float]]:
    util = [round(50 + 45 * math.sin(i / 7 + phase)) for i in range(samples)]
    return {
        "util": [float(u) for u in util],
        "vram": [round(40 + 30 * (1 + math.sin(i / 25 + phase)) / 2, 1) for i in range(samples)],
        "temp": [float(38 + u * 0.45) for u in util],
    }


def _node(
    ident: str,
    name: str,
    group: str,
    status: str,
    *,
    gpus: list[dict[str, Any]] | None = None,
    models: list[tuple[str, bool]] = (),  # type: ignore[assignment]
    in_flight: int = 0,
    tps: float = 0.0,
    drained: bool = False,
    history: dict[str, Any] | None = None,
) -> dict[str, Any]:
    online = status != "offline"
    return {
        "id": ident,
        "name": name,
        "group_id": FRIENDS if group == "friends" else LAB,
        "group": group,
        "status": status,
        "drained": drained,
        "agent_version": "0.1.0" if online else None,
        "connected_at": "2025-03-14T08:00:00+00:00" if online else None,
        "max_concurrency": 8 if online else None,
        "in_flight": in_flight,
        "agent_in_flight": in_flight,
        "queued": 0,
        "tokens_per_s": tps,
        "gpus": gpus if online else None,
        "models": [{"id": m, "loaded": loaded, "backend": "ollama"} for m, loaded in models]
        if online
        else [],
        "backends": [
            {
                "kind": "ollama",
                "root_url": "http://127.0.0.1:11434",
                "version": "0.5.7",
                "reachable": True,
                "explicit": False,
                "models": len(models),
            }
        ]
        if online
        else [],
        "history": history or {},
    }


NODES = [
    _node(
        "n-alice",
        "alice-4090",
        "friends",
        "online",
        gpus=[
            _gpu(0, "NVIDIA GeForce RTX 4090", 87, 19800, 24564, 71, 388),
            _gpu(1, "NVIDIA GeForce RTX 3090", 42, 9100, 24576, 58, 210),
        ],
        models=[("llama3.1:8b", True), ("qwen2.5:14b", False), ("nomic-embed-text", True)],
        in_flight=3,
        tps=84.2,
        history={"0": _history(0.0), "1": _history(2.0)},
    ),
    _node(
        "n-bob",
        "bob-mac",
        "friends",
        "online",
        gpus=None,
        models=[("mistral:7b", True)],
        in_flight=0,
        tps=12.5,
    ),
    _node(
        "n-carol",
        "carol-a6000",
        "friends",
        "draining",
        gpus=[_gpu(0, "NVIDIA RTX A6000", 5, 40100, 49140, 44, 95)],
        models=[("llama3.1:70b", True)],
        in_flight=1,
        tps=3.0,
        drained=True,
        history={"0": _history(1.0, 40)},
    ),
    _node("n-dave", "dave-3060", "friends", "offline"),
    _node(
        "n-lab1",
        "lab-h100-01",
        "lab",
        "online",
        gpus=[_gpu(0, "NVIDIA H100 80GB HBM3", 99, 78000, 81559, 86, 690)],
        models=[("qwen2.5:72b", True)],
        in_flight=7,
        tps=412.0,
    ),
    _node(
        "n-lab2",
        "lab-h100-02",
        "lab",
        "online",
        gpus=[_gpu(0, "NVIDIA H100 80GB HBM3", 12, 2100, 81559, 35, 120)],
        models=[("qwen2.5:72b", False)],
        in_flight=0,
        tps=0.0,
    ),
]


def _member(user: str, role: str) -> dict[str, Any]:
    return {
        "user_id": f"u-{user}",
        "name": user,
        "role": role,
        "since": "2025-01-02T10:00:00+00:00",
    }


GROUPS = [
    {
        "id": FRIENDS,
        "name": "friends",
        "created_at": "2025-01-02T10:00:00+00:00",
        "members": [
            _member("alice", "owner"),
            _member("bob", "admin"),
            _member("carol", "member"),
            _member("dave", "member"),
        ],
        "nodes": 4,
        "keys": 3,
    },
    {
        "id": LAB,
        "name": "lab",
        "created_at": "2025-02-01T10:00:00+00:00",
        "members": [_member("erin", "owner")],
        "nodes": 2,
        "keys": 1,
    },
]


def _key(
    ident: str,
    name: str,
    prefix: str,
    group: str,
    user: str,
    last: str | None,
    revoked: str | None = None,
) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "prefix": prefix,
        "group_id": FRIENDS if group == "friends" else LAB,
        "group": group,
        "user_id": f"u-{user}",
        "user": user,
        "created_at": "2025-01-03T10:00:00+00:00",
        "last_used_at": last,
        "revoked_at": revoked,
    }


KEYS = [
    _key("k1", "laptop", "llmc-Ab3dE9xQ", "friends", "alice", "2025-03-14T09:26:50+00:00"),
    _key("k2", "cursor", "llmc-Zz81kLmN", "friends", "bob", "2025-03-14T09:20:11+00:00"),
    _key(
        "k3",
        "old-phone",
        "llmc-Qq0pWx7T",
        "friends",
        "carol",
        None,
        revoked="2025-02-20T12:00:00+00:00",
    ),
    _key("k4", "ci", "llmc-Hh5uYt2R", "lab", "erin", "2025-03-13T22:01:00+00:00"),
]

MODELS = ["llama3.1:8b", "qwen2.5:72b", "mistral:7b", "llama3.1:70b"]
REQUESTS = [
    {
        "request_id": f"r{i:02d}",
        "time": f"2025-03-14T09:26:{i * 4 % 60:02d}+00:00",
        "key_id": "k1" if i % 3 else "k2",
        "key_name": "laptop" if i % 3 else "cursor",
        "group_id": FRIENDS,
        "route": "/v1/chat/completions",
        "model": MODELS[i % 4],
        "stream": bool(i % 2),
        "node_id": "n-alice",
        "node_name": ["alice-4090", "lab-h100-01", "bob-mac", "carol-a6000"][i % 4],
        "ttft_ms": 80.0 + 37 * i,
        "duration_ms": 900.0 + 150 * i,
        "status": 503 if i == 7 else 200,
        "error_code": "no_nodes_available" if i == 7 else None,
        "prompt_tokens": None if i == 7 else 120 + i * 11,
        "completion_tokens": None if i == 7 else 300 + i * 45,
    }
    for i in range(14)
]

SNAPSHOT: dict[str, Any] = {
    "type": "snapshot",
    "time": T0,
    "interval_s": 1.0,
    "history_interval_s": 3600.0,  # no sampling while a screenshot is taken
    "me": {"user_id": "u-root", "name": "root", "role": "operator", "groups": {}, "expires_at": 0},
    "nodes": NODES,
    "groups": GROUPS,
    "keys": KEYS,
    "aliases": [
        {"group_id": FRIENDS, "alias": "fast", "targets": ["llama3.1:8b", "mistral:7b"]},
        {"group_id": FRIENDS, "alias": "smart", "targets": ["llama3.1:70b"]},
    ],
    "queues": {FRIENDS: {"llama3.1:70b": 2}},
    "requests": REQUESTS,
}

USAGE: dict[str, Any] = {
    "window": "24h",
    "by": "key",
    "group_id": None,
    "since": "2025-03-13T09:26:53+00:00",
    "until": T0,
    "rows": [
        {
            "id": "k1",
            "name": "laptop",
            "requests": 1840,
            "prompt_tokens": 512000,
            "completion_tokens": 1230000,
            "total_tokens": 1742000,
        },
        {
            "id": "k4",
            "name": "ci",
            "requests": 9120,
            "prompt_tokens": 301000,
            "completion_tokens": 640500,
            "total_tokens": 941500,
        },
        {
            "id": "k2",
            "name": "cursor",
            "requests": 377,
            "prompt_tokens": 88000,
            "completion_tokens": 120000,
            "total_tokens": 208000,
        },
    ],
    "series": {
        "bucket_s": 3600,
        "tokens": [
            float(20000 + 90000 * max(0.0, math.sin((h - 6) / 24 * 2 * math.pi))) for h in range(24)
        ],
    },
}


class RecordedClient:
    """Plays :data:`SNAPSHOT` as a connected relay would, then stays quiet."""

    def __init__(self, frames: list[dict[str, Any]] | None = None) -> None:
        self.frames = frames if frames is not None else [SNAPSHOT]
        self.commands: list[tuple[str, dict[str, Any]]] = []

    async def events(self) -> AsyncIterator[ClientEvent]:
        yield Connecting("ws://relay.test/admin/ws", 1)
        yield Connected("ws://relay.test/admin/ws")
        for frame in self.frames:
            yield Received(frame)
        await asyncio.Event().wait()

    async def command(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.commands.append((name, params or {}))
        if name == "usage":
            return USAGE
        raise AdminApiError(f"{name} is not available in a recording.")

    async def close(self) -> None:
        return None
