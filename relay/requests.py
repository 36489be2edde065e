"""What the relay notes about each proxied request, from arrival to the last byte.

One :class:`RequestLog` per request is filled in as the request progresses and closed
exactly once with :meth:`RequestLog.finish`, which hands it to whoever listens (the live
feed, usage accounting). Cheap: a few attribute writes on the hot path.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from relay.auth import Principal


@dataclass(slots=True)
class RequestLog:
    principal: Principal
    route: str
    model: str
    streaming: bool
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)
    node_id: str | None = None
    node_name: str | None = None
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    status: int = 0
    error_code: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    estimated: bool = False
    finished: bool = False

    def first_byte(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = (time.monotonic() - self.started) * 1000

    def usage(
        self, prompt_tokens: int | None, completion_tokens: int | None, *, estimated: bool = False
    ) -> None:
        """Token counts: from the backend, or estimated by the relay (``estimated``)."""
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.estimated = estimated

    def close(self, status: int, error_code: str | None = None) -> bool:
        """Mark the end; False if it was already closed (so it is reported once)."""
        if self.finished:
            return False
        self.finished = True
        self.status = status
        self.error_code = error_code
        self.duration_ms = (time.monotonic() - self.started) * 1000
        return True

    def to_event(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "time": self.started_at.isoformat(),
            "key_id": self.principal.key_id,
            "key_name": self.principal.key_name,
            "user_id": self.principal.user_id,
            "group_id": self.principal.group_id,
            "route": self.route,
            "model": self.model,
            "stream": self.streaming,
            "node_id": self.node_id,
            "node_name": self.node_name,
            "ttft_ms": self.ttft_ms,
            "duration_ms": self.duration_ms,
            "status": self.status,
            "error_code": self.error_code,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "estimated": self.estimated,
        }
