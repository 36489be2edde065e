"""The tunnel protocol between relay and agents: typed messages, framing, flow control.

Sans-I/O: nothing here opens a socket or imports a web framework (an import-linter
contract enforces it), so the agent shares it without pulling in the relay's server.
"""

from __future__ import annotations

from relay.protocol.codec import (
    decode,
    decode_data_header,
    encode,
    encode_batch,
    encode_data,
    split_frames,
)
from relay.protocol.flow import ReceiveWindow, SendCredit
from relay.protocol.messages import (
    PROTOCOL_VERSION,
    Cancel,
    Data,
    Drain,
    End,
    Heartbeat,
    Hello,
    HelloAck,
    Inventory,
    Message,
    ModelEntry,
    OpenStream,
    ProtocolError,
    ResponseHead,
    StreamError,
    Window,
)

__all__ = [
    "PROTOCOL_VERSION",
    "Cancel",
    "Data",
    "Drain",
    "End",
    "Heartbeat",
    "Hello",
    "HelloAck",
    "Inventory",
    "Message",
    "ModelEntry",
    "OpenStream",
    "ProtocolError",
    "ReceiveWindow",
    "ResponseHead",
    "SendCredit",
    "StreamError",
    "Window",
    "decode",
    "decode_data_header",
    "encode",
    "encode_batch",
    "encode_data",
    "split_frames",
]
