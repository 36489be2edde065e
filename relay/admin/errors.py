"""Errors of the admin API, in the same JSON shape as the OpenAI-compatible API.

``{"error": {"message", "type", "param", "code"}}`` with the matching HTTP status, on REST
and inside WebSocket ``result`` frames alike. Messages are written for a person (the
console shows them as they are) and never contain a secret.
"""

from __future__ import annotations

from typing import Any

from quart import Response

from relay.errors import error_body
from storage import Conflict, NotFound


class AdminError(Exception):
    """A refused admin request; ``str()`` is the message shown to the caller."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        """The ``{"error": {...}}`` object (also carried by WebSocket results)."""
        import orjson

        data: dict[str, Any] = orjson.loads(
            error_body(self.message, status=self.status, param=self.param, code=self.code)
        )
        return data

    def response(self) -> Response:
        return Response(
            error_body(self.message, status=self.status, param=self.param, code=self.code),
            status=self.status,
            content_type="application/json",
        )


def bad_request(
    message: str, *, param: str | None = None, code: str = "invalid_value"
) -> AdminError:
    return AdminError(400, message, code=code, param=param)


def not_found(what: str, ref: str, *, param: str | None = None) -> AdminError:
    """The same answer for a missing object and one the caller may not see (no leak)."""
    return AdminError(404, f"No {what} {ref!r} that you manage.", code="not_found", param=param)


def forbidden(message: str) -> AdminError:
    return AdminError(403, message, code="forbidden")


def conflict(message: str, *, param: str | None = None) -> AdminError:
    return AdminError(409, message, code="conflict", param=param)


def from_store(exc: Exception) -> AdminError | None:
    """Translate a store's :class:`Conflict`/:class:`NotFound` into an admin error."""
    if isinstance(exc, Conflict):
        return conflict("That conflicts with an existing object (is the name taken?).")
    if isinstance(exc, NotFound):
        return AdminError(404, "A referenced object does not exist.", code="not_found")
    return None
