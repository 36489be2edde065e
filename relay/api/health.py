"""Liveness and readiness probes for process supervisors and load balancers."""

from __future__ import annotations

import asyncio

from quart import Blueprint, Response

from relay.state import relay_state

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz() -> Response:
    """The process is up and serving HTTP (no dependency is checked)."""
    return Response(b'{"status":"ok"}', content_type="application/json")


@blueprint.get("/readyz")
async def readyz() -> Response:
    """The store answers within 2 s; 503 otherwise (take this relay out of rotation)."""
    try:
        await asyncio.wait_for(relay_state().store.ping(), timeout=2.0)
    except Exception:
        return Response(
            b'{"status":"unavailable","store":"unreachable"}',
            status=503,
            content_type="application/json",
        )
    return Response(b'{"status":"ready"}', content_type="application/json")
