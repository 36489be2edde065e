"""The tunnel's typed messages: what a relay and an agent say to each other.

Control messages travel as WebSocket text frames holding one JSON object with a ``type``
tag (see :mod:`relay.protocol.codec`). The two messages that carry HTTP bodies travel as
binary frames so a body is never re-encoded: :class:`OpenStream` (relay -> agent: a
consumer's request, header JSON followed by the raw body) and :class:`Data` (agent ->
relay: bytes of a response body, forwarded to the consumer as they are).

Every message validates itself in ``__post_init__``, so a decoded message is well formed
or :class:`ProtocolError` was raised. This module does no I/O and imports no framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

PROTOCOL_VERSION = 1

# Stream ids are allotted by the relay, per tunnel, and fit in 4 bytes of a binary frame.
MAX_STREAM_ID = 2**32 - 1


class ProtocolError(ValueError):
    """A frame that does not follow the protocol. The peer closes the tunnel on it."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ProtocolError(message)


def _check_stream(stream: object) -> None:
    _check(
        isinstance(stream, int) and not isinstance(stream, bool) and 0 < stream <= MAX_STREAM_ID,
        f"stream id must be an integer in 1..{MAX_STREAM_ID}, got {stream!r}",
    )


def _check_str(value: object, name: str, *, empty: bool = False) -> None:
    _check(isinstance(value, str) and (empty or value != ""), f"{name} must be a string")


def _check_number(value: object, name: str, *, minimum: float = 0) -> None:
    _check(
        isinstance(value, int | float) and not isinstance(value, bool) and value >= minimum,
        f"{name} must be a number >= {minimum}",
    )


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model a node can serve; ``loaded`` means resident in VRAM (no cold start)."""

    id: str
    loaded: bool = False
    backend: str = "openai"

    def __post_init__(self) -> None:
        _check_str(self.id, "model id")
        _check(isinstance(self.loaded, bool), "model 'loaded' must be a boolean")
        _check_str(self.backend, "model backend")


def _models(raw: object) -> tuple[ModelEntry, ...]:
    if not isinstance(raw, list | tuple):
        raise ProtocolError("models must be a list")
    out = []
    for item in raw:
        if isinstance(item, ModelEntry):
            out.append(item)
        else:
            _check(isinstance(item, dict), "each model must be an object")
            try:
                out.append(ModelEntry(**item))
            except TypeError as exc:
                raise ProtocolError(f"bad model entry: {exc}") from None
    return tuple(out)


def _dicts(raw: object, name: str) -> tuple[dict[str, Any], ...]:
    if not (isinstance(raw, list | tuple) and all(isinstance(x, dict) for x in raw)):
        raise ProtocolError(f"{name} must be a list of objects")
    return tuple(raw)


@dataclass(frozen=True, slots=True)
class Hello:
    """Agent -> relay, first message on a tunnel: who the agent is and what it serves."""

    TYPE: ClassVar[str] = "hello"
    protocol_version: int
    agent_version: str
    node_name: str
    models: tuple[ModelEntry, ...] = ()
    backends: tuple[dict[str, Any], ...] = ()
    gpus: tuple[dict[str, Any], ...] = ()
    max_concurrency: int = 8

    def __post_init__(self) -> None:
        _check(isinstance(self.protocol_version, int), "protocol_version must be an integer")
        _check_str(self.agent_version, "agent_version")
        _check_str(self.node_name, "node_name")
        object.__setattr__(self, "models", _models(self.models))
        object.__setattr__(self, "backends", _dicts(self.backends, "backends"))
        object.__setattr__(self, "gpus", _dicts(self.gpus, "gpus"))
        _check_number(self.max_concurrency, "max_concurrency", minimum=1)


@dataclass(frozen=True, slots=True)
class HelloAck:
    """Relay -> agent: the tunnel is accepted, with the limits the relay enforces."""

    TYPE: ClassVar[str] = "hello_ack"
    node_id: str
    heartbeat_interval_s: float
    max_message_bytes: int
    window_bytes: int

    def __post_init__(self) -> None:
        _check_str(self.node_id, "node_id")
        _check_number(self.heartbeat_interval_s, "heartbeat_interval_s", minimum=0.01)
        _check_number(self.max_message_bytes, "max_message_bytes", minimum=1024)
        _check_number(self.window_bytes, "window_bytes", minimum=1024)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Agent -> relay, every interval: liveness, load and GPU metrics (None = unavailable)."""

    TYPE: ClassVar[str] = "heartbeat"
    in_flight: int
    gpus: tuple[dict[str, Any], ...] | None = None

    def __post_init__(self) -> None:
        _check_number(self.in_flight, "in_flight")
        if self.gpus is not None:
            object.__setattr__(self, "gpus", _dicts(self.gpus, "gpus"))


@dataclass(frozen=True, slots=True)
class Inventory:
    """Agent -> relay, whenever backends or models change (not only at the next heartbeat)."""

    TYPE: ClassVar[str] = "inventory"
    models: tuple[ModelEntry, ...]
    backends: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", _models(self.models))
        object.__setattr__(self, "backends", _dicts(self.backends, "backends"))


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """Agent -> relay: the backend answered; status and content type of the response."""

    TYPE: ClassVar[str] = "response_head"
    stream: int
    status: int
    content_type: str = "application/json"

    def __post_init__(self) -> None:
        _check_stream(self.stream)
        _check(isinstance(self.status, int) and 100 <= self.status <= 599, "bad HTTP status")
        _check_str(self.content_type, "content_type")


@dataclass(frozen=True, slots=True)
class End:
    """Agent -> relay: the response body is complete. Usage counts when the agent saw them."""

    TYPE: ClassVar[str] = "end"
    stream: int
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def __post_init__(self) -> None:
        _check_stream(self.stream)
        for name in ("prompt_tokens", "completion_tokens"):
            value = getattr(self, name)
            if value is not None:
                _check_number(value, name)


@dataclass(frozen=True, slots=True)
class StreamError:
    """Agent -> relay: the request failed; before a head it becomes the HTTP answer."""

    TYPE: ClassVar[str] = "error"
    stream: int
    status: int
    message: str
    code: str | None = None
    error_type: str = "server_error"

    def __post_init__(self) -> None:
        _check_stream(self.stream)
        _check(isinstance(self.status, int) and 400 <= self.status <= 599, "bad error status")
        _check_str(self.message, "message")
        _check_str(self.error_type, "error_type")


@dataclass(frozen=True, slots=True)
class Cancel:
    """Relay -> agent: the consumer went away; abort the backend request now."""

    TYPE: ClassVar[str] = "cancel"
    stream: int

    def __post_init__(self) -> None:
        _check_stream(self.stream)


@dataclass(frozen=True, slots=True)
class Window:
    """Relay -> agent: flow-control credit; the agent may send ``increment`` more bytes."""

    TYPE: ClassVar[str] = "window"
    stream: int
    increment: int

    def __post_init__(self) -> None:
        _check_stream(self.stream)
        _check_number(self.increment, "increment", minimum=1)


@dataclass(frozen=True, slots=True)
class Drain:
    """Either way: the sender takes (agent) or sends (relay) no new requests on this tunnel."""

    TYPE: ClassVar[str] = "drain"
    reason: str = ""

    def __post_init__(self) -> None:
        _check_str(self.reason, "reason", empty=True)


@dataclass(frozen=True, slots=True)
class OpenStream:
    """Relay -> agent (binary frame): a consumer request to forward to a local backend.

    ``route`` is the OpenAI path (e.g. ``/v1/chat/completions``); the agent checks it
    against its allow-list and never takes a host or URL from the relay. ``deadline_s``
    is the time the agent has, from receipt, before it must give up.
    """

    TYPE: ClassVar[str] = "open"
    stream: int
    method: str
    route: str
    body: bytes = b""
    deadline_s: float = 600.0
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_stream(self.stream)
        _check(self.method in ("GET", "POST"), f"method must be GET or POST, got {self.method!r}")
        _check(
            isinstance(self.route, str) and self.route.startswith("/") and "://" not in self.route,
            "route must be an absolute path",
        )
        _check(isinstance(self.body, bytes), "body must be bytes")
        _check_number(self.deadline_s, "deadline_s")
        _check(
            isinstance(self.headers, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()),
            "headers must map strings to strings",
        )


@dataclass(frozen=True, slots=True)
class Data:
    """Agent -> relay (binary frame): the next bytes of a response body, to pass on as is."""

    TYPE: ClassVar[str] = "data"
    stream: int
    payload: bytes

    def __post_init__(self) -> None:
        _check_stream(self.stream)
        _check(isinstance(self.payload, bytes | bytearray | memoryview), "payload must be bytes")


ControlMessage = (
    Hello
    | HelloAck
    | Heartbeat
    | Inventory
    | ResponseHead
    | End
    | StreamError
    | Cancel
    | Window
    | Drain
)
Message = ControlMessage | OpenStream | Data

CONTROL_TYPES: dict[str, type[ControlMessage]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        HelloAck,
        Heartbeat,
        Inventory,
        ResponseHead,
        End,
        StreamError,
        Cancel,
        Window,
        Drain,
    )
}
