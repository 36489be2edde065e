"""Light-touch normalisation of an OpenAI-compatible SSE stream (LM Studio, vLLM, ...).

Backends that already speak OpenAI need almost nothing done to their stream, so
:class:`PassthroughNormalizer` forwards the bytes as they came, cut only at event
boundaries (a blank line), and parses no JSON on the fast path. It:

* records token usage from the chunk that carries it (``.usage``);
* with ``strip_usage=True`` (the agent asked the backend for usage but the client did
  not) drops the usage-only chunk (``"choices": []`` plus ``usage``) after recording it
  (a ``usage`` riding on a chunk that has choices is recorded but left in place);
* adds ``data: [DONE]`` at :meth:`finish` when the backend did not send it.

Only events containing the bytes ``"usage"`` (not followed by ``null``) or ``[DONE]``
are looked at more closely. Output is independent of how the input was split.

Sans-I/O, one instance per stream, not thread-safe; safe to abandon at any point.
"""

from __future__ import annotations

import re

import orjson

from agent.translate.errors import SSE_DONE
from agent.translate.lines import MAX_LINE_BYTES, LineTooLongError

# An event ends at a blank line: "\n" followed by an optional "\r" and "\n".
_EVENT_END = re.compile(rb"\n\r?\n")
_USAGE_NULL = re.compile(rb'"usage"\s*:\s*null')
_NEWLINES = b"\r\n"


class PassthroughNormalizer:
    """Forward an OpenAI SSE stream, fixing the two things backends get wrong.

    ``usage`` is ``(prompt_tokens, completion_tokens)`` from the last chunk that carried
    it; ``saw_done`` tells whether the backend sent ``data: [DONE]``.
    """

    def __init__(self, *, strip_usage: bool = False, max_event: int = MAX_LINE_BYTES) -> None:
        self.strip_usage = strip_usage
        self.usage: tuple[int, int] | None = None
        self.saw_done = False
        self._max = max_event
        self._buf = bytearray()

    def feed(self, data: bytes) -> bytes:
        """Add backend bytes; return the complete events among them (possibly ``b""``).

        Raises :class:`~agent.translate.lines.LineTooLongError` if one event grows past
        ``max_event`` bytes without ending.
        """
        start = max(len(self._buf) - 2, 0)
        self._buf += data
        lf = self._buf.rfind(b"\n\n", start)
        crlf = self._buf.rfind(b"\n\r\n", start)
        end = max(lf + 2 if lf >= 0 else 0, crlf + 3 if crlf >= 0 else 0)
        if end == 0:
            if len(self._buf) > self._max:
                raise LineTooLongError(self._max)
            return b""
        block = bytes(self._buf[:end])
        del self._buf[:end]
        return self._block(block)

    def finish(self) -> bytes:
        """Flush at end of stream: the unterminated tail (if any) and a missing ``[DONE]``."""
        tail = bytes(self._buf)
        self._buf.clear()
        out = b""
        if tail.strip(_NEWLINES):
            out = self._block(tail.rstrip(_NEWLINES) + b"\n\n")
        elif tail:
            out = tail
        if not self.saw_done:
            self.saw_done = True
            out += SSE_DONE
        return out

    def _block(self, block: bytes) -> bytes:
        """Process complete events; return them minus any dropped usage chunk."""
        if b'"usage"' not in block and b"[DONE]" not in block:
            return block
        out = bytearray()
        pos = 0
        while pos < len(block):
            m = _EVENT_END.search(block, pos)
            end = m.end() if m else len(block)
            event = block[pos:end]
            pos = end
            body = event.lstrip(_NEWLINES)
            if body and self._keep(body):
                out += event
            else:
                out += event[: len(event) - len(body)]
        return bytes(out)

    def _keep(self, event: bytes) -> bool:
        """Inspect one event; return False if it is a usage chunk to drop."""
        if b"[DONE]" in event and _data(event).strip() == b"[DONE]":
            self.saw_done = True
            return True
        if b'"usage"' not in event or _USAGE_NULL.search(event):
            return True
        try:
            obj = orjson.loads(_data(event))
        except orjson.JSONDecodeError:
            return True
        usage = obj.get("usage") if isinstance(obj, dict) else None
        if not isinstance(usage, dict):
            return True
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        self.usage = (
            prompt if isinstance(prompt, int) else 0,
            completion if isinstance(completion, int) else 0,
        )
        return not (self.strip_usage and obj.get("choices") == [])


def _data(event: bytes) -> bytes:
    """Return the joined ``data:`` payload of one raw SSE event."""
    parts = []
    for line in event.split(b"\n"):
        line = line.rstrip(b"\r")
        if line.startswith(b"data:"):
            value = line[5:]
            parts.append(value[1:] if value.startswith(b" ") else value)
    return b"\n".join(parts)
