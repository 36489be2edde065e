"""PassthroughNormalizer: bytes through untouched, [DONE] ensured, usage recorded/stripped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.translate.openai_passthrough import PassthroughNormalizer
from tests.agent.translate.splitting import CUTS, PROPERTY, bytewise, split_at

HEAD = b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"qwen2.5-7b"'
ROLE = (
    b"data: "
    + HEAD
    + b',"choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null}\n\n'
)
TEXT = (
    b"data: " + HEAD + b',"choices":[{"index":0,"delta":{"content":"h\xc3\xa9llo \xf0\x9f\x8c\x8d '
    b'\\"usage\\""}}],"usage":null}\n\n'
)
STOP = (
    b"data: "
    + HEAD
    + b',"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
)
USAGE = (
    b"data: " + HEAD + b',"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,'
    b'"total_tokens":12}}\n\n'
)
DONE = b"data: [DONE]\n\n"
STREAM = ROLE + TEXT + STOP + USAGE + DONE


def run(pieces: list[bytes], *, strip_usage: bool = False) -> tuple[bytes, PassthroughNormalizer]:
    norm = PassthroughNormalizer(strip_usage=strip_usage)
    return b"".join(norm.feed(p) for p in pieces) + norm.finish(), norm


def test_complete_stream_passes_unchanged() -> None:
    out, norm = run([STREAM])
    assert out == STREAM
    assert norm.usage == (10, 2)
    assert norm.saw_done


def test_events_are_released_whole_and_unchanged() -> None:
    norm = PassthroughNormalizer()
    assert norm.feed(ROLE[:20]) == b""
    assert norm.feed(ROLE[20:] + TEXT[:5]) == ROLE
    assert norm.feed(TEXT[5:]) == TEXT


def test_missing_done_is_added() -> None:
    out, norm = run([ROLE + TEXT + STOP])
    assert out == ROLE + TEXT + STOP + DONE
    assert norm.usage is None


def test_usage_chunk_is_stripped_but_recorded() -> None:
    out, norm = run([STREAM], strip_usage=True)
    assert out == ROLE + TEXT + STOP + DONE
    assert norm.usage == (10, 2)


def test_usage_on_a_content_chunk_is_recorded_not_stripped() -> None:
    chunk = (
        b"data: " + HEAD + b', "choices": [{"index":0,"delta":{}}], "usage": {"prompt_tokens": 3,'
        b' "completion_tokens": 4, "total_tokens": 7}}\n\n'
    )
    out, norm = run([chunk + DONE], strip_usage=True)
    assert out == chunk + DONE
    assert norm.usage == (3, 4)


def test_spaced_json_and_crlf_events() -> None:
    usage = (
        b'data: {"id": "x", "choices": [], "usage": {"prompt_tokens": 5, '
        b'"completion_tokens": 6, "total_tokens": 11}}\r\n\r\n'
    )
    body = ROLE.replace(b"\n\n", b"\r\n\r\n") + usage + b"data: [DONE]\r\n\r\n"
    out, norm = run([body], strip_usage=True)
    assert out == ROLE.replace(b"\n\n", b"\r\n\r\n") + b"data: [DONE]\r\n\r\n"
    assert norm.usage == (5, 6)


def test_unterminated_last_event_is_flushed() -> None:
    out, norm = run([ROLE + b"data: [DONE]"])
    assert out == ROLE + b"data: [DONE]\n\n"
    assert norm.saw_done


def test_unterminated_usage_chunk_is_stripped_at_finish() -> None:
    out, norm = run([ROLE + USAGE.rstrip()], strip_usage=True)
    assert out == ROLE + DONE
    assert norm.usage == (10, 2)


def test_done_mentioned_in_content_is_not_done() -> None:
    text = b'data: {"choices":[{"index":0,"delta":{"content":"[DONE]"}}]}\n\n'
    out, _ = run([text])
    assert out == text + DONE


STREAMS = [STREAM, ROLE + TEXT + STOP, ROLE + b"\n" + USAGE + b"\r\n" + STOP + USAGE.rstrip()]


def test_byte_at_a_time_matches_single_feed() -> None:
    for body in STREAMS:
        for strip in (False, True):
            assert run(bytewise(body), strip_usage=strip)[0] == run([body], strip_usage=strip)[0]


@PROPERTY
@given(cuts=CUTS, strip=st.booleans())
def test_any_split_matches_single_feed(cuts: list[int], strip: bool) -> None:
    for body in STREAMS:
        got, norm = run(split_at(body, cuts), strip_usage=strip)
        want, ref = run([body], strip_usage=strip)
        assert got == want
        assert (norm.usage, norm.saw_done) == (ref.usage, ref.saw_done)


EVENT_PARTS = st.sampled_from([ROLE, TEXT, STOP, USAGE, DONE, b"\n", b"\r\n", b": ping\n\n"])


@PROPERTY
@given(parts=st.lists(EVENT_PARTS, max_size=8), cuts=CUTS, strip=st.booleans())
def test_random_event_sequences_any_split(parts: list[bytes], cuts: list[int], strip: bool) -> None:
    body = b"".join(parts)
    assert run(split_at(body, cuts), strip_usage=strip)[0] == run([body], strip_usage=strip)[0]
