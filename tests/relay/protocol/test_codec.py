"""The tunnel protocol: every message survives encode/decode; bad frames are refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.protocol import (
    PROTOCOL_VERSION,
    Cancel,
    Data,
    Drain,
    End,
    Heartbeat,
    Hello,
    HelloAck,
    Inventory,
    ModelEntry,
    OpenStream,
    ProtocolError,
    ReceiveWindow,
    ResponseHead,
    SendCredit,
    StreamError,
    Window,
    decode,
    decode_data_header,
    encode,
    encode_batch,
    encode_data,
    split_frames,
)

EXAMPLES = [
    Hello(
        PROTOCOL_VERSION,
        "0.1.0",
        "rig",
        (ModelEntry("m", True, "ollama"),),
        ({"kind": "ollama"},),
        ({"name": "RTX 4090", "utilization_pct": 12.0},),
        4,
    ),
    HelloAck("node-1", 5.0, 16 * 1024 * 1024, 1024 * 1024),
    Heartbeat(3, ({"name": "gpu"},)),
    Heartbeat(0, None),
    Inventory((ModelEntry("a"), ModelEntry("b", True)), ()),
    ResponseHead(1, 200, "text/event-stream"),
    End(1, 10, 20),
    End(2),
    StreamError(3, 502, "backend down", "backend_unavailable", "server_error"),
    Cancel(4),
    Window(5, 65536),
    Drain("stopping"),
    OpenStream(6, "POST", "/v1/chat/completions", b'{"model":"m"}', 30.0, {"x-request-id": "r"}),
    Data(7, b"data: {}\n\n"),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message: object) -> None:
    assert decode(encode(message)) == message  # type: ignore[arg-type]


@given(stream=st.integers(1, 2**32 - 1), payload=st.binary(max_size=4096))
def test_data_frames_carry_bytes_untouched(stream: int, payload: bytes) -> None:
    frame = encode_data(stream, payload)
    assert decode_data_header(frame) == stream
    assert decode(frame) == Data(stream, payload)


@given(
    body=st.binary(max_size=2048),
    route=st.sampled_from(["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]),
)
def test_open_frames_carry_the_body_untouched(body: bytes, route: str) -> None:
    assert decode(encode(OpenStream(9, "POST", route, body))).body == body  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "frame, match",
    [
        (b"", "empty"),
        (b"\x07abc", "unknown frame kind"),
        (b"\x00not json", "invalid JSON"),
        (b"\x00[1,2]", "JSON object"),
        (b'\x00{"type":"teleport"}', "unknown message type"),
        (b'\x00{"type":"cancel","stream":0}', "stream id"),
        (b'\x00{"type":"cancel"}', "bad cancel"),
        (b'\x00{"type":"response_head","stream":1,"status":99}', "status"),
        (b'\x00{"type":"window","stream":1,"increment":-5}', "increment"),
        (
            b'\x00{"type":"hello","protocol_version":1,"agent_version":"x","node_name":""}',
            "node_name",
        ),
        (b"\x01\x00\x00", "truncated"),
        (b"\x02\x00\x00\x00\x01\x00\x00\x10\x00{}", "overruns"),
    ],
)
def test_malformed_frames_are_protocol_errors(frame: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        decode(frame)


def test_open_refuses_a_url_instead_of_a_route() -> None:
    with pytest.raises(ProtocolError, match="route"):
        OpenStream(1, "POST", "http://evil.example/v1/chat/completions")
    with pytest.raises(ProtocolError, match="method"):
        OpenStream(1, "DELETE", "/v1/models")


def test_frames_over_the_size_limit_are_refused() -> None:
    frame = encode_data(1, b"x" * 2000)
    with pytest.raises(ProtocolError, match="exceeds"):
        decode(frame, max_bytes=1024)


def test_unknown_fields_from_a_newer_peer_are_ignored() -> None:
    assert decode(b'\x00{"type":"cancel","stream":3,"why":"later"}') == Cancel(3)


def test_flow_control_blocks_after_a_window_and_grants_in_halves() -> None:
    credit = SendCredit(1000)
    credit.consume(600)
    assert not credit.blocked
    credit.consume(600)  # the chunk that crosses the limit still goes
    assert credit.blocked
    window = ReceiveWindow(1000)
    assert window.consumed(400) == 0
    grant = window.consumed(200)
    assert grant == 600
    credit.grant(grant)
    assert not credit.blocked


def test_batches_carry_frames_in_order() -> None:
    frames = [encode(ResponseHead(1, 200)), encode_data(1, b"abc"), encode(End(1, 2, 3))]
    batch = encode_batch(frames)
    assert batch[0] == 0x03
    assert split_frames(batch) == frames
    assert encode_batch(frames[:1]) == frames[0]
    assert split_frames(frames[0]) == [frames[0]]


@pytest.mark.parametrize(
    "frame", [b"\x03\x00\x00", b"\x03\x00\x00\x00\x09abc", b"\x03\x00\x00\x00\x02\x03\x00"]
)
def test_malformed_batches(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        split_frames(frame)
