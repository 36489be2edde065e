"""Incremental splitters for byte streams: NDJSON lines and Server-Sent Events.

Backends answer in chunks cut at arbitrary points (inside a line, inside a multi-byte
UTF-8 character, between ``\\r`` and ``\\n``). :class:`LineSplitter` and :class:`SSEParser`
work on bytes only and hand out whole lines/events, so a caller decodes each complete
unit once and never sees a torn character.

Both are sans-I/O: feed them bytes, take results. They are not thread-safe (one instance
per stream) and can be abandoned at any point, so they are safe to use from a task that
may be cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LINE_BYTES = 16 * 1024 * 1024
"""Default longest line accepted (16 MiB); a longer one means a broken or hostile peer."""


class LineTooLongError(ValueError):
    """A line grew past the splitter's limit without a newline."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"line longer than {limit} bytes without a newline")
        self.limit = limit


class LineSplitter:
    """Cut a byte stream into lines (``\\n`` or ``\\r\\n`` endings, removed).

    Partial tails are kept across :meth:`feed` calls; :meth:`finish` returns the last line
    if the stream did not end with a newline. Raises :class:`LineTooLongError` once a line
    exceeds ``max_line`` bytes; the splitter must not be used after that.
    """

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._max = max_line
        self._tail = bytearray()

    @property
    def pending(self) -> int:
        """Number of bytes held back waiting for a newline."""
        return len(self._tail)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return the lines it completed, in order."""
        cut = data.rfind(b"\n")
        if cut < 0:
            self._tail += data
            if len(self._tail) > self._max:
                raise LineTooLongError(self._max)
            return []
        if self._tail:
            self._tail += data[:cut]
            block = bytes(self._tail)
        else:
            block = data[:cut]
        self._tail = bytearray(data[cut + 1 :])
        lines = block.split(b"\n")
        for i, line in enumerate(lines):
            if len(line) > self._max:
                raise LineTooLongError(self._max)
            if line.endswith(b"\r"):
                lines[i] = line[:-1]
        if len(self._tail) > self._max:
            raise LineTooLongError(self._max)
        return lines

    def finish(self) -> bytes | None:
        """Return the unterminated last line (``\\r`` stripped), or ``None`` if there is none."""
        if not self._tail:
            return None
        line = bytes(self._tail)
        self._tail.clear()
        return line[:-1] if line.endswith(b"\r") else line


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched Server-Sent Event: its ``data`` lines joined by ``\\n``."""

    data: bytes
    event: str | None = None
    id: str | None = None


class SSEParser:
    """Parse a ``text/event-stream`` body into :class:`SSEEvent` objects.

    Follows the WHATWG rules that matter for LLM streams: ``data:`` lines accumulate
    (joined with ``\\n``), one space after the colon is dropped, ``:`` lines are comments,
    ``event:``/``id:`` are kept, and a blank line dispatches the event. Events with no
    ``data`` line are not dispatched.
    """

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._lines = LineSplitter(max_line)
        self._data: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Add ``data`` and return the events it completed, in order."""
        out: list[SSEEvent] = []
        for line in self._lines.feed(data):
            self._line(line, out)
        return out

    def finish(self) -> list[SSEEvent]:
        """Flush at end of stream; an event missing its final blank line is still returned.

        (The standard drops such an event; backends that forget the last blank line are
        common enough that losing their final chunk would be worse.)
        """
        out: list[SSEEvent] = []
        last = self._lines.finish()
        if last is not None:
            self._line(last, out)
        self._line(b"", out)
        return out

    def _line(self, line: bytes, out: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                out.append(SSEEvent(b"\n".join(self._data), self._event, self._id))
            self._data = []
            self._event = None
            return
        if line.startswith(b":"):
            return
        name, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id" and b"\0" not in value:
            self._id = value.decode("utf-8", "replace")
