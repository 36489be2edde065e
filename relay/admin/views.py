"""What the admin API says about nodes, groups, members and keys: plain JSON-able dicts.

These shapes are the console's wire contract (see ``relay.admin.ws``); times are ISO 8601
in UTC, ids are opaque strings, and nothing here ever holds a secret or a secret's digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from relay.admin.runtime import AdminRuntime
from relay.tunnel.session import AgentSession
from storage import ApiKey, Group, Membership, Node, User

GPU_FIELDS = (
    "index",
    "name",
    "vendor",
    "utilization_pct",
    "memory_used_mb",
    "memory_total_mb",
    "temperature_c",
    "power_w",
)
BACKEND_FIELDS = ("kind", "root_url", "version", "reachable", "explicit")


def iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def node_status(session: AgentSession | None) -> str:
    """``online``, ``draining`` (connected, takes no new requests) or ``offline``."""
    if session is None or session.closed:
        return "offline"
    return "draining" if session.draining else "online"


def node_view(
    node_id: str,
    node: Node | None,
    session: AgentSession | None,
    *,
    group_names: Mapping[str, str],
    runtime: AdminRuntime,
    queues: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, Any]:
    """One node as the console shows it, online or not. ``queued`` counts the requests
    waiting (in ``queues``, by group and model) for a model this node serves."""
    group_id = node.group_id if node is not None else session.group_id if session else ""
    name = node.name if node is not None else session.node_name if session else node_id
    view: dict[str, Any] = {
        "id": node_id,
        "name": name,
        "group_id": group_id,
        "group": group_names.get(group_id, ""),
        "status": node_status(session),
        "drained": node_id in runtime.drained,
        "agent_version": None,
        "connected_at": None,
        "max_concurrency": None,
        "in_flight": 0,
        "agent_in_flight": 0,
        "queued": 0,
        "tokens_per_s": round(runtime.throughput.rate(node_id), 1),
        "gpus": None,
        "models": [],
        "backends": [],
    }
    if session is not None and not session.closed:
        view.update(
            agent_version=session.agent_version,
            connected_at=datetime.fromtimestamp(session.connected_at, UTC).isoformat(),
            max_concurrency=session.max_concurrency,
            in_flight=session.in_flight,
            agent_in_flight=session.agent_in_flight,
            gpus=None
            if session.gpus is None
            else [{k: gpu.get(k) for k in GPU_FIELDS} for gpu in session.gpus],
            models=[
                {"id": m.id, "loaded": m.loaded, "backend": m.backend}
                for m in sorted(session.models.values(), key=lambda m: (not m.loaded, m.id))
            ],
            backends=[_backend(b) for b in session.backends],
        )
        waiting = (queues or {}).get(group_id, {})
        view["queued"] = sum(n for model, n in waiting.items() if model in session.models)
    return view


def _backend(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: raw.get(k) for k in BACKEND_FIELDS}
    models = raw.get("models")
    out["models"] = len(models) if isinstance(models, list) else None
    return out


def group_view(
    group: Group,
    members: Iterable[Membership],
    users: Mapping[str, User],
    *,
    nodes: int,
    keys: int,
) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "created_at": iso(group.created_at),
        "members": [member_view(m, users) for m in members],
        "nodes": nodes,
        "keys": keys,
    }


def member_view(member: Membership, users: Mapping[str, User]) -> dict[str, Any]:
    user = users.get(member.user_id)
    return {
        "user_id": member.user_id,
        "name": user.name if user is not None else member.user_id,
        "role": member.role.value,
        "since": iso(member.created_at),
    }


def key_view(
    key: ApiKey, users: Mapping[str, User], group_names: Mapping[str, str]
) -> dict[str, Any]:
    """A key by name and visible prefix; never its hash."""
    user = users.get(key.user_id)
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "group_id": key.group_id,
        "group": group_names.get(key.group_id, ""),
        "user_id": key.user_id,
        "user": user.name if user is not None else key.user_id,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked_at": iso(key.revoked_at),
    }


def node_record_view(node: Node, group_names: Mapping[str, str]) -> dict[str, Any]:
    """A registered node as stored (for command results); never its token digest."""
    return {
        "id": node.id,
        "name": node.name,
        "group_id": node.group_id,
        "group": group_names.get(node.group_id, ""),
        "user_id": node.user_id,
        "created_at": iso(node.created_at),
        "revoked_at": iso(node.revoked_at),
    }


REQUEST_FIELDS = (
    "request_id",
    "time",
    "key_id",
    "key_name",
    "group_id",
    "route",
    "model",
    "stream",
    "node_id",
    "node_name",
    "ttft_ms",
    "duration_ms",
    "status",
    "error_code",
    "prompt_tokens",
    "completion_tokens",
)


def request_view(event: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of the live request feed (a ``request`` event, trimmed)."""
    return {k: event.get(k) for k in REQUEST_FIELDS}
