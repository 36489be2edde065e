"""StreamTranslator: byte-exact OpenAI SSE for recorded Ollama NDJSON streams."""

from __future__ import annotations

from hypothesis import given

from agent.translate.ollama import OllamaPlan, StreamTranslator, plan_request
from tests.agent.translate import ollama_fixtures as fx
from tests.agent.translate.splitting import CUTS, PROPERTY, bytewise, split_at

RID = "chatcmpl-test"
CREATED = 1700000000
DONE = b"data: [DONE]\n\n"


def chat_plan(include_usage: bool = False) -> OllamaPlan:
    extra = ',"stream_options":{"include_usage":true}' if include_usage else ""
    body = '{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":true' + extra
    return plan_request("/v1/chat/completions", (body + "}").encode())


def completion_plan(include_usage: bool = False) -> OllamaPlan:
    extra = ',"stream_options":{"include_usage":true}' if include_usage else ""
    body = '{"model":"llama3.2","prompt":"Why is the sky blue?","stream":true' + extra
    return plan_request("/v1/completions", (body + "}").encode())


def chat_event(delta: str, finish: str = "null", usage: str = "") -> bytes:
    return (
        'data: {"id":"chatcmpl-test","object":"chat.completion.chunk","created":1700000000,'
        f'"model":"llama3.2","choices":[{{"index":0,"delta":{delta},"logprobs":null,'
        f'"finish_reason":{finish}}}]{usage}}}\n\n'
    ).encode()


def text_event(text: str, finish: str = "null", usage: str = "") -> bytes:
    return (
        'data: {"id":"chatcmpl-test","object":"text_completion","created":1700000000,'
        f'"model":"llama3.2","choices":[{{"text":{text},"index":0,"logprobs":null,'
        f'"finish_reason":{finish}}}]{usage}}}\n\n'
    ).encode()


def usage_event(kind: str, prompt: int, completion: int) -> bytes:
    return (
        f'data: {{"id":"chatcmpl-test","object":"{kind}","created":1700000000,'
        f'"model":"llama3.2","choices":[],"usage":{{"prompt_tokens":{prompt},'
        f'"completion_tokens":{completion},"total_tokens":{prompt + completion}}}}}\n\n'
    ).encode()


def run(plan: OllamaPlan, pieces: list[bytes]) -> tuple[bytes, StreamTranslator]:
    tr = StreamTranslator(plan, RID, CREATED)
    out = b"".join(tr.feed(p) for p in pieces) + tr.finish()
    return out, tr


CHAT_EXPECTED = (
    chat_event('{"role":"assistant","content":""}')
    + chat_event('{"content":"The"}')
    + chat_event('{"content":" sky"}')
    + chat_event('{"content":" héllo 🌍"}')
    + chat_event("{}", '"stop"')
    + DONE
)


def test_chat_stream_exact_bytes() -> None:
    out, tr = run(chat_plan(), [fx.CHAT_STREAM])
    assert out == CHAT_EXPECTED
    assert tr.usage == (26, 282)
    assert tr.done and tr.error is None


def test_chat_stream_with_usage_puts_usage_null_then_usage_chunk() -> None:
    out, _ = run(chat_plan(include_usage=True), [fx.CHAT_STREAM])
    null = ',"usage":null'
    assert out == (
        chat_event('{"role":"assistant","content":""}', usage=null)
        + chat_event('{"content":"The"}', usage=null)
        + chat_event('{"content":" sky"}', usage=null)
        + chat_event('{"content":" héllo 🌍"}', usage=null)
        + chat_event("{}", '"stop"', usage=null)
        + usage_event("chat.completion.chunk", 26, 282)
        + DONE
    )


def test_chat_stream_done_reason_length() -> None:
    out, tr = run(chat_plan(), [fx.CHAT_STREAM_LENGTH])
    assert out == (
        chat_event('{"role":"assistant","content":""}')
        + chat_event('{"content":"Once upon"}')
        + chat_event("{}", '"length"')
        + DONE
    )
    assert tr.usage == (34, 2)


def test_chat_tool_call_stream() -> None:
    out, tr = run(chat_plan(), [fx.CHAT_TOOL_STREAM])
    call = (
        '{"tool_calls":[{"index":0,"id":"call_24aee4e74f5d85ba03909ed5","type":"function",'
        '"function":{"name":"get_current_weather",'
        '"arguments":"{\\"format\\":\\"celsius\\",\\"location\\":\\"Paris, FR\\"}"}}]}'
    )
    assert out == (
        chat_event('{"role":"assistant","content":""}')
        + chat_event(call)
        + chat_event("{}", '"tool_calls"')
        + DONE
    )
    assert tr.usage == (122, 33)


def test_tool_calls_are_numbered_across_lines_and_keep_backend_ids() -> None:
    line = (
        b'{"model":"m","message":{"role":"assistant","content":"","tool_calls":'
        b'[{"function":{"name":"a","arguments":{}}}]},"done":false}\n'
    )
    with_id = (
        b'{"model":"m","message":{"role":"assistant","content":"","tool_calls":'
        b'[{"id":"call_abc","function":{"name":"b","arguments":{"x":1}}}]},"done":false}\n'
    )
    final = b'{"model":"m","message":{"role":"assistant","content":""},"done":true}\n'
    out, _ = run(chat_plan(), [line + with_id + final])
    assert b'"index":0,"id":"call_24aee4e74f5d85ba03909ed5"' in out
    assert b'"index":1,"id":"call_abc","type":"function","function":{"name":"b"' in out
    assert b'"arguments":"{\\"x\\":1}"' in out


def test_thinking_becomes_reasoning_delta() -> None:
    body = (
        b'{"model":"m","message":{"role":"assistant","content":"","thinking":"Hmm"},"done":false}\n'
        b'{"model":"m","message":{"role":"assistant","content":""},"done":true}\n'
    )
    out, _ = run(chat_plan(), [body])
    assert chat_event('{"reasoning":"Hmm"}') in out


def test_error_line_reports_error_and_stops() -> None:
    out, tr = run(chat_plan(), [fx.CHAT_ERROR_STREAM, fx.CHAT_STREAM])
    assert out == (
        chat_event('{"role":"assistant","content":""}')
        + chat_event('{"content":"The"}')
        + b'data: {"error":{"message":"an error was encountered while running the model: '
        b'unexpected EOF","type":"server_error","param":null,"code":null}}\n\n'
    )
    assert tr.error is not None and not tr.done and tr.usage is None


def test_stream_ending_without_done_is_an_error() -> None:
    out, tr = run(chat_plan(), [fx.CHAT_TRUNCATED_STREAM])
    assert out.endswith(
        b'data: {"error":{"message":"Backend stream ended before the response was complete",'
        b'"type":"server_error","param":null,"code":null}}\n\n'
    )
    assert DONE not in out and tr.error is not None


def test_invalid_json_line_is_an_error() -> None:
    out, tr = run(chat_plan(), [b"{not json\n"])
    assert out.startswith(b'data: {"error":{"message":"Backend sent invalid JSON')
    assert tr.finished


def test_last_line_without_newline_is_processed_at_finish() -> None:
    out, _ = run(chat_plan(), [fx.CHAT_STREAM.rstrip(b"\n")])
    assert out == CHAT_EXPECTED


def test_crlf_and_blank_lines_are_tolerated() -> None:
    out, _ = run(chat_plan(), [fx.CHAT_STREAM.replace(b"\n", b"\r\n\r\n")])
    assert out == CHAT_EXPECTED


def test_input_after_done_is_ignored() -> None:
    tr = StreamTranslator(chat_plan(), RID, CREATED)
    tr.feed(fx.CHAT_STREAM)
    assert tr.feed(fx.CHAT_STREAM) == b""
    assert tr.finish() == b""


def test_completion_stream_exact_bytes() -> None:
    out, tr = run(completion_plan(), [fx.GENERATE_STREAM])
    assert out == (
        text_event('"The"') + text_event('" sky 🌍"') + text_event('""', '"stop"') + DONE
    )
    assert tr.usage == (26, 259)


def test_completion_stream_with_usage() -> None:
    out, _ = run(completion_plan(include_usage=True), [fx.GENERATE_STREAM])
    null = ',"usage":null'
    assert out == (
        text_event('"The"', usage=null)
        + text_event('" sky 🌍"', usage=null)
        + text_event('""', '"stop"', usage=null)
        + usage_event("text_completion", 26, 259)
        + DONE
    )


ALL_STREAMS = [
    (fx.CHAT_STREAM, True),
    (fx.CHAT_TOOL_STREAM, True),
    (fx.CHAT_ERROR_STREAM, True),
    (fx.CHAT_TRUNCATED_STREAM, True),
    (fx.GENERATE_STREAM, False),
]


def test_one_byte_at_a_time_matches_single_feed() -> None:
    for body, chat in ALL_STREAMS:
        plan = chat_plan(True) if chat else completion_plan(True)
        assert run(plan, bytewise(body))[0] == run(plan, [body])[0]


@PROPERTY
@given(cuts=CUTS)
def test_any_split_matches_single_feed(cuts: list[int]) -> None:
    for body, chat in ALL_STREAMS:
        plan = chat_plan(True) if chat else completion_plan(True)
        assert run(plan, split_at(body, cuts))[0] == run(plan, [body])[0]
