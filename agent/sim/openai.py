"""A simulated OpenAI-compatible LLM server (like llama.cpp's or vLLM's ``/v1`` API).

It stands in for a real engine where this machine has no GPU: the demo starts it when
no Ollama or LM Studio is running, the tests and the benchmark drive it. It speaks the
wire format of OpenAI's API (``chat.completion``, ``chat.completion.chunk`` over SSE,
``text_completion``, embeddings lists) and answers deterministically:

* the answer to any prompt is ``max_tokens`` words (default 16), ``"w0 w1 w2 ..."``;
* ``token_delay_ms`` (server default, or the extra body field ``sim_token_delay_ms``)
  spaces the streamed tokens; ``sim_first_token_delay_ms`` delays the first one;
* when ``tools`` are offered and ``tool_choice`` is not ``"none"``, the answer is a call
  to the first tool with the arguments ``{"city": "Paris"}``;
* ``sim_status`` (an int) makes it answer that HTTP status with an OpenAI error body.

Every request is recorded (path, headers, parsed body) and every connection that the
client closed before the answer ended is counted, so tests can see cancellation arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

SIM_NOTICE = "SIMULATED BACKEND: answers are generated words, not a language model"


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class SimState:
    """What the simulated server saw; read by tests."""

    models: list[str] = field(default_factory=lambda: ["sim-model"])
    token_delay_ms: float = 0.0
    record: bool = True
    requests: list[RecordedRequest] = field(default_factory=list)
    disconnects: int = 0
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    bytes_streamed: int = 0
    fail_status: int | None = None  # answer every generation request with this error


def _words(n: int, pad: int = 0) -> list[str]:
    """The answer's words; ``pad`` lengthens each (``sim_word_pad``) for bulk-data tests."""
    tail = "x" * pad
    return [f"w{i}{tail} " for i in range(n)]


def _prompt_tokens(body: dict[str, Any]) -> int:
    if "messages" in body:
        text = " ".join(str(m.get("content") or "") for m in body["messages"])
    else:
        prompt = body.get("prompt", "")
        text = " ".join(prompt) if isinstance(prompt, list) else str(prompt)
    return max(1, len(text.split()))


def _error(status: int, message: str, code: str | None = None) -> web.Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    payload = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


class SimulatedOpenAI:
    """The server. ``await start()`` binds it on loopback; ``base_url`` ends in ``/v1``."""

    def __init__(self, state: SimState | None = None) -> None:
        self.state = state or SimState()
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_get("/v1/models", self._models)
        self.app.router.add_post("/v1/chat/completions", self._chat)
        self.app.router.add_post("/v1/completions", self._completions)
        self.app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        # handler_cancellation: a client that hangs up cancels the handler at once, which
        # is how the tests observe a cancel crossing the tunnel before the first token.
        self._runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- handlers ------------------------------------------------------------------

    async def _read(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        if self.state.record:
            self.state.requests.append(RecordedRequest(request.path, dict(request.headers), body))
        if body.get("model") not in self.state.models:
            return _error(
                404, f"The model `{body.get('model')}` does not exist.", "model_not_found"
            )
        status = body.get("sim_status", self.state.fail_status)
        if isinstance(status, int) and status >= 400:
            return _error(status, f"simulated failure {status}")
        return body

    async def _models(self, request: web.Request) -> web.Response:
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "sim"}
            for m in self.state.models
        ]
        return web.json_response({"object": "list", "data": data}, dumps=_dumps)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, chat=True)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, chat=False)

    async def _generate(self, request: web.Request, *, chat: bool) -> web.StreamResponse:
        body = await self._read(request)
        if isinstance(body, web.Response):
            return body
        self.state.in_flight += 1
        try:
            if body.get("stream"):
                return await self._stream(request, body, chat=chat)
            first_delay = float(body.get("sim_first_token_delay_ms", 0))
            if first_delay:
                await asyncio.sleep(first_delay / 1000)
            return web.Response(
                body=orjson.dumps(_full_answer(body, chat)), content_type="application/json"
            )
        except asyncio.CancelledError:
            self._note_disconnect()
            raise
        finally:
            self.state.in_flight -= 1

    def _note_disconnect(self) -> None:
        self.state.disconnects += 1
        self.state.disconnected.set()

    async def _stream(
        self, request: web.Request, body: dict[str, Any], *, chat: bool
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        delay = float(body.get("sim_token_delay_ms", self.state.token_delay_ms)) / 1000
        first_delay = float(body.get("sim_first_token_delay_ms", 0)) / 1000
        if first_delay:
            await asyncio.sleep(first_delay)
        await response.prepare(request)
        try:
            for event in _stream_events(body, chat):
                await response.write(event)
                self.state.bytes_streamed += len(event)
                if delay:
                    await asyncio.sleep(delay)
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, ConnectionError):
            self._note_disconnect()
            return response
        await response.write_eof()
        return response

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        if isinstance(body, web.Response):
            return body
        inputs = body.get("input", "")
        items = inputs if isinstance(inputs, list) else [inputs]
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(str(text))}
            for i, text in enumerate(items)
        ]
        tokens = sum(max(1, len(str(t).split())) for t in items)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            dumps=_dumps,
        )


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _vector(text: str, dims: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 255, 6) for b in digest[:dims]]


def _wants_tool(body: dict[str, Any]) -> bool:
    return bool(body.get("tools")) and body.get("tool_choice") != "none"


def _tool_call(body: dict[str, Any]) -> dict[str, Any]:
    name = body["tools"][0]["function"]["name"]
    return {
        "id": "call_sim0",
        "type": "function",
        "function": {"name": name, "arguments": '{"city": "Paris"}'},
    }


def _usage(body: dict[str, Any], completion: int) -> dict[str, int]:
    prompt = _prompt_tokens(body)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _full_answer(body: dict[str, Any], chat: bool) -> dict[str, Any]:
    n = int(body.get("max_tokens") or 16)
    created = int(time.time())
    if not chat:
        return {
            "id": "cmpl-sim",
            "object": "text_completion",
            "created": created,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "text": "".join(_words(n)),
                    "logprobs": None,
                    "finish_reason": "length",
                }
            ],
            "usage": _usage(body, n),
        }
    if _wants_tool(body):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [_tool_call(body)],
        }
        finish, n = "tool_calls", 1
    else:
        message = {"role": "assistant", "content": "".join(_words(n))}
        finish = "length"
    return {
        "id": "chatcmpl-sim",
        "object": "chat.completion",
        "created": created,
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(body, n),
    }


def _stream_events(body: dict[str, Any], chat: bool) -> list[bytes]:
    """All SSE events of one streamed answer, [DONE] excluded."""
    n = int(body.get("max_tokens") or 16)
    model = body["model"]
    created = int(time.time())
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    events: list[dict[str, Any]] = []
    if chat:
        base = {
            "id": "chatcmpl-sim",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }

        events.append(chunk({"role": "assistant", "content": ""}))
        if _wants_tool(body):
            call = _tool_call(body)
            events.append(chunk({"tool_calls": [{"index": 0, **call}]}))
            events.append(chunk({}, "tool_calls"))
            n = 1
        else:
            pad = int(body.get("sim_word_pad", 0))
            events.extend(chunk({"content": w}) for w in _words(n, pad))
            events.append(chunk({}, "length"))
    else:
        base = {"id": "cmpl-sim", "object": "text_completion", "created": created, "model": model}
        events.extend(
            {**base, "choices": [{"index": 0, "text": w, "logprobs": None, "finish_reason": None}]}
            for w in _words(n)
        )
        events.append(
            {
                **base,
                "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": "length"}],
            }
        )
    if include_usage:
        events.append({**base, "choices": [], "usage": _usage(body, n)})
    return [b"data: " + orjson.dumps(e) + b"\n\n" for e in events]


def main(argv: list[str] | None = None) -> None:
    """Run the simulated server until interrupted (used by the demo and the benchmark)."""
    parser = argparse.ArgumentParser(description=SIM_NOTICE)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", action="append", dest="models")
    parser.add_argument("--token-delay-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    state = SimState(
        models=args.models or ["sim-model"], token_delay_ms=args.token_delay_ms, record=False
    )

    async def serve() -> None:
        sim = SimulatedOpenAI(state)
        await sim.start(port=args.port)
        print(f"{SIM_NOTICE}\nlistening on {sim.base_url}", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
