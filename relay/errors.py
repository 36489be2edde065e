"""OpenAI-format error responses: ``{"error": {"message", "type", "param", "code"}}``.

Clients such as the ``openai`` SDK map the status to an exception class and show the
message, so messages are written for a person and never contain a secret.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from quart import Response

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def error_body(
    message: str,
    *,
    status: int,
    param: str | None = None,
    code: str | None = None,
    error_type: str | None = None,
) -> bytes:
    kind = error_type or _TYPES.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )
    return orjson.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}})


def openai_error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    error_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error response in OpenAI's format with the given HTTP status."""
    body = error_body(message, status=status, param=param, code=code, error_type=error_type)
    return Response(
        body, status=status, content_type="application/json", headers=dict(headers or {})
    )


def sse_error_event(
    message: str, *, code: str | None = None, error_type: str = "server_error"
) -> bytes:
    """The event that ends a stream which failed after its first byte was sent."""
    payload = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return b"data: " + orjson.dumps(payload) + b"\n\n"
