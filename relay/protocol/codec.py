"""Encoding of tunnel messages into WebSocket binary frames, and back.

Every frame is binary and starts with one kind byte:

* ``0x00`` control: the rest is one JSON object with a ``type`` tag (orjson);
* ``0x01`` data: a 4-byte big-endian stream id, then the body bytes, untouched;
* ``0x02`` open: a 4-byte stream id, a 4-byte header length, the header JSON
  (method, route, deadline, headers), then the request body, untouched;
* ``0x03`` batch: several of the frames above, each behind a 4-byte length. A sender
  packs whatever frames are ready at once into one WebSocket message, so many streams'
  chunks cost the receiver one message, not one each.

So the hot path (response chunks) costs a 5-byte prefix and no JSON at all. Pure functions,
no I/O: the relay's and the agent's socket code call them and only move bytes.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import orjson

from relay.protocol.messages import (
    CONTROL_TYPES,
    ControlMessage,
    Data,
    Message,
    OpenStream,
    ProtocolError,
)

KIND_CONTROL = 0x00
KIND_DATA = 0x01
KIND_OPEN = 0x02
KIND_BATCH = 0x03

_STREAM = struct.Struct(">I")
_OPEN_HEAD = struct.Struct(">II")
DATA_PREFIX_LEN = 1 + _STREAM.size

_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in CONTROL_TYPES.values()
}


def encode(message: Message) -> bytes:
    """One frame for ``message``."""
    if isinstance(message, Data):
        return encode_data(message.stream, message.payload)
    if isinstance(message, OpenStream):
        head = orjson.dumps(
            {
                "method": message.method,
                "route": message.route,
                "deadline_s": message.deadline_s,
                "headers": message.headers,
            }
        )
        return b"\x02" + _OPEN_HEAD.pack(message.stream, len(head)) + head + message.body
    fields = {name: getattr(message, name) for name in _FIELDS[type(message)]}
    fields["type"] = message.TYPE
    return b"\x00" + orjson.dumps(fields)


def encode_data(stream: int, payload: bytes | bytearray | memoryview) -> bytes:
    """A data frame, built without a message object (the per-chunk fast path)."""
    return b"\x01" + _STREAM.pack(stream) + payload


def encode_batch(frames: list[bytes]) -> bytes:
    """One frame carrying ``frames`` (a single frame is returned as it is)."""
    if len(frames) == 1:
        return frames[0]
    parts = [b"\x03"]
    for frame in frames:
        parts.append(_STREAM.pack(len(frame)))
        parts.append(frame)
    return b"".join(parts)


def split_frames(frame: bytes) -> list[bytes]:
    """The frames inside a batch frame, or ``[frame]`` for any other frame.

    Raises :class:`ProtocolError` on a truncated batch or a batch inside a batch.
    """
    if not frame or frame[0] != KIND_BATCH:
        return [frame]
    frames = []
    offset, end = 1, len(frame)
    while offset < end:
        if offset + _STREAM.size > end:
            raise ProtocolError("truncated batch frame")
        (size,) = _STREAM.unpack_from(frame, offset)
        offset += _STREAM.size
        if size == 0 or offset + size > end:
            raise ProtocolError("batch entry overruns the frame")
        inner = frame[offset : offset + size]
        if inner[0] == KIND_BATCH:
            raise ProtocolError("a batch may not contain a batch")
        frames.append(inner)
        offset += size
    return frames


def decode(frame: bytes | bytearray | memoryview, *, max_bytes: int | None = None) -> Message:
    """Parse one frame; :class:`ProtocolError` if it is malformed or larger than ``max_bytes``."""
    if max_bytes is not None and len(frame) > max_bytes:
        raise ProtocolError(f"frame of {len(frame)} bytes exceeds the limit of {max_bytes}")
    if not frame:
        raise ProtocolError("empty frame")
    view = memoryview(frame)
    kind = view[0]
    if kind == KIND_DATA:
        if len(view) < DATA_PREFIX_LEN:
            raise ProtocolError("truncated data frame")
        (stream,) = _STREAM.unpack_from(view, 1)
        return Data(stream, bytes(view[DATA_PREFIX_LEN:]))
    if kind == KIND_OPEN:
        return _decode_open(view)
    if kind == KIND_CONTROL:
        return _decode_control(view[1:])
    raise ProtocolError(f"unknown frame kind 0x{kind:02x}")


def decode_data_header(frame: bytes) -> int | None:
    """The stream id if ``frame`` is a data frame, else None (lets a reader skip ``decode``)."""
    if len(frame) >= DATA_PREFIX_LEN and frame[0] == KIND_DATA:
        return int(_STREAM.unpack_from(frame, 1)[0])
    return None


def _decode_open(view: memoryview) -> OpenStream:
    if len(view) < 1 + _OPEN_HEAD.size:
        raise ProtocolError("truncated open frame")
    stream, head_len = _OPEN_HEAD.unpack_from(view, 1)
    start = 1 + _OPEN_HEAD.size
    if start + head_len > len(view):
        raise ProtocolError("open frame header overruns the frame")
    head = _loads(view[start : start + head_len])
    body = bytes(view[start + head_len :])
    try:
        return OpenStream(
            stream=stream,
            method=head["method"],
            route=head["route"],
            body=body,
            deadline_s=head.get("deadline_s", 600.0),
            headers=head.get("headers", {}),
        )
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"bad open header: {exc}") from None


def _decode_control(view: memoryview) -> ControlMessage:
    obj = _loads(view)
    kind = obj.pop("type", None)
    cls = CONTROL_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    allowed = _FIELDS[cls]
    # Unknown fields are dropped, not refused: a newer peer of the same protocol version
    # may add optional fields without breaking an older one.
    try:
        return cls(**{k: v for k, v in obj.items() if k in allowed})
    except TypeError as exc:
        raise ProtocolError(f"bad {kind} message: {exc}") from None


def _loads(data: memoryview) -> dict[str, Any]:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("a control message must be a JSON object")
    return obj
