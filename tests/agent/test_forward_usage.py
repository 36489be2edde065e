"""The agent asks OpenAI-style backends for stream usage the client did not ask for, and
hides the usage chunk from that client; the counts still reach the relay."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from agent.forward import Forwarder, Peek, _peek, with_stream_usage
from agent.sim.openai import SimState, SimulatedOpenAI
from relay.protocol import OpenStream

CHAT = "/v1/chat/completions"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def peek(body: bytes) -> Peek:
    return _peek(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"model":"m","stream":true}',
            b'{"stream_options":{"include_usage":true},"model":"m","stream":true}',
        ),
        (
            b'  {\n "model": "m",\n "x": 1.10}',
            b'  {"stream_options":{"include_usage":true},\n "model": "m",\n "x": 1.10}',
        ),
    ],
)
def test_splicing_leaves_the_clients_bytes_alone(body: bytes, expected: bytes) -> None:
    out = with_stream_usage(body, peek(body))
    assert out == expected
    assert orjson.loads(out)["stream_options"] == {"include_usage": True}


def test_existing_stream_options_are_merged_or_left() -> None:
    body = b'{"model":"m","stream":true,"stream_options":{"include_usage":false,"x":1}}'
    out = with_stream_usage(body, peek(body))
    assert out is not None
    assert orjson.loads(out)["stream_options"] == {"include_usage": True, "x": 1}
    odd = b'{"model":"m","stream":true,"stream_options":"yes"}'
    assert with_stream_usage(odd, peek(odd)) is None


@dataclass
class Collected:
    """A Sink that keeps what the forwarder sends towards the relay."""

    status: int = 0
    body: bytearray = field(default_factory=bytearray)
    usage: tuple[int | None, int | None] | None = None
    errors: list[str] = field(default_factory=list)

    async def head(self, status: int, content_type: str) -> None:
        self.status = status

    async def data(self, payload: bytes) -> None:
        self.body += payload

    async def end(self, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        self.usage = (prompt_tokens, completion_tokens)

    async def error(
        self, status: int, message: str, code: str | None = None, error_type: str = "server_error"
    ) -> None:
        self.errors.append(message)


@dataclass(frozen=True)
class Local:
    kind: str
    root_url: str
    api_key: str | None = None


@pytest_asyncio.fixture
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[tuple[SimulatedOpenAI, str]]:
    """The simulated OpenAI server; ``picky`` makes it refuse ``stream_options`` (400)."""
    sim = SimulatedOpenAI(SimState())
    if getattr(request, "param", "") == "picky":

        @web.middleware
        async def refuse(req: web.Request, handler: Handler) -> web.StreamResponse:
            if b"stream_options" in await req.read():
                return web.json_response({"error": {"message": "unknown field"}}, status=400)
            return await handler(req)

        sim.app.middlewares.append(refuse)
    url = await sim.start()
    yield sim, url.removesuffix("/v1")
    await sim.stop()


async def forward(root: str, body: dict[str, object]) -> Collected:
    sink = Collected()
    async with aiohttp.ClientSession() as http:
        forwarder = Forwarder(
            http, allowed_routes=[CHAT], models={"sim-model": Local("openai", root)}
        )
        await forwarder.forward(OpenStream(1, "POST", CHAT, orjson.dumps(body)), sink)  # type: ignore[arg-type]
    return sink


def events(raw: bytes) -> list[bytes]:
    return [e for e in bytes(raw).split(b"\n\n") if e]


BODY = {"model": "sim-model", "messages": [{"role": "user", "content": "a b c"}], "max_tokens": 4}


async def test_usage_is_asked_for_and_the_chunk_hidden(
    backend: tuple[SimulatedOpenAI, str],
) -> None:
    sim, root = backend
    sink = await forward(root, {**BODY, "stream": True})
    assert sink.status == 200 and sink.usage == (3, 4)
    assert sim.state.requests[-1].body["stream_options"] == {"include_usage": True}
    assert all(b'"usage"' not in e for e in events(sink.body))
    assert events(sink.body)[-1] == b"data: [DONE]"


async def test_a_client_that_asked_keeps_its_usage_chunk(
    backend: tuple[SimulatedOpenAI, str],
) -> None:
    _, root = backend
    sink = await forward(root, {**BODY, "stream": True, "stream_options": {"include_usage": True}})
    assert sink.usage == (3, 4)
    assert b'"usage"' in events(sink.body)[-2]


@pytest.mark.parametrize("backend", ["picky"], indirect=True)
async def test_a_backend_refusing_stream_options_is_asked_again_plainly(
    backend: tuple[SimulatedOpenAI, str],
) -> None:
    sim, root = backend
    sink = await forward(root, {**BODY, "stream": True})
    assert sink.status == 200 and not sink.errors
    assert sink.usage == (None, None)  # no counts: the relay estimates
    assert "stream_options" not in sim.state.requests[-1].body
    assert len(events(sink.body)) == 1 + 4 + 1 + 1
