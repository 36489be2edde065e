"""LineSplitter and SSEParser: whole lines/events whatever the read boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.translate.lines import LineSplitter, LineTooLongError, SSEEvent, SSEParser
from tests.agent.translate.splitting import CUTS, PROPERTY, bytewise, split_at

TEXT = "héllo 🌍\r\nsecond line\n\nthird ☃ no newline".encode()


def lines_of(pieces: list[bytes], max_line: int = 1 << 20) -> list[bytes]:
    splitter = LineSplitter(max_line)
    out = [line for piece in pieces for line in splitter.feed(piece)]
    last = splitter.finish()
    return [*out, last] if last is not None else out


def events_of(pieces: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    return [e for piece in pieces for e in parser.feed(piece)] + parser.finish()


def test_lines_basic_crlf_and_tail() -> None:
    assert lines_of([TEXT]) == [
        "héllo 🌍".encode(),
        b"second line",
        b"",
        "third ☃ no newline".encode(),
    ]


def test_partial_lines_are_kept_across_feeds() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"ab") == []
    assert splitter.pending == 2
    assert splitter.feed(b"c\r") == []
    assert splitter.feed(b"\nd") == [b"abc"]
    assert splitter.finish() == b"d"
    assert splitter.finish() is None


def test_split_inside_multibyte_character_is_reassembled() -> None:
    globe = "🌍".encode()
    splitter = LineSplitter()
    assert splitter.feed(b"x" + globe[:2]) == []
    assert splitter.feed(globe[2:] + b"\n") == [b"x" + globe]


def test_over_long_line_raises() -> None:
    splitter = LineSplitter(max_line=8)
    assert splitter.feed(b"12345678\n") == [b"12345678"]
    with pytest.raises(LineTooLongError, match="8 bytes"):
        splitter.feed(b"123456789")


def test_over_long_complete_line_raises_too() -> None:
    with pytest.raises(LineTooLongError):
        LineSplitter(max_line=4).feed(b"ok\n123456789\n")


@PROPERTY
@given(cuts=CUTS)
def test_lines_any_split(cuts: list[int]) -> None:
    assert lines_of(split_at(TEXT, cuts)) == lines_of([TEXT])


SSE = (
    b": keep-alive comment\n"
    b"event: message\n"
    b'data: {"a":\n'
    b'data:  "h\xc3\xa9llo \xf0\x9f\x8c\x8d"}\n'
    b"id: 7\n"
    b"\n"
    b"retry: 1000\n"
    b"\n"
    b"data: [DONE]\r\n"
    b"\r\n"
    b"data\n"
    b"\n"
    b"data: unterminated"
)


def test_sse_events() -> None:
    assert events_of([SSE]) == [
        SSEEvent(b'{"a":\n "h\xc3\xa9llo \xf0\x9f\x8c\x8d"}', "message", "7"),
        SSEEvent(b"[DONE]", None, "7"),
        SSEEvent(b"", None, "7"),
        SSEEvent(b"unterminated", None, "7"),
    ]


def test_sse_event_without_data_is_not_dispatched() -> None:
    parser = SSEParser()
    assert parser.feed(b"event: ping\n\n: comment\n\n") == []


@PROPERTY
@given(cuts=CUTS)
def test_sse_any_split(cuts: list[int]) -> None:
    assert events_of(split_at(SSE, cuts)) == events_of([SSE])


def test_sse_byte_at_a_time() -> None:
    assert events_of(bytewise(SSE)) == events_of([SSE])


@PROPERTY
@given(text=st.text(alphabet=st.sampled_from("ab\n\ré🌍:"), max_size=80), cuts=CUTS)
def test_random_text_any_split(text: str, cuts: list[int]) -> None:
    data = text.encode()
    assert lines_of(split_at(data, cuts)) == lines_of([data])
    assert events_of(split_at(data, cuts)) == events_of([data])
