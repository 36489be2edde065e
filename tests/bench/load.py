"""The load generator: one verified request (streamed or not) and a pool of workers.

Every answer is checked in full. A non-streamed answer's content must equal
``"w0 w1 ... w{n-1} "`` exactly; a streamed answer's content deltas, concatenated, must
equal the same and the stream must end with ``data: [DONE]``. Anything else (an HTTP
error, a dropped or extra chunk, an exception) is an error with a short reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

MESSAGES = [{"role": "user", "content": "benchmark"}]


@dataclass(frozen=True)
class Target:
    """Where the requests go: ``direct`` (the backend) or ``relay``."""

    name: str
    url: str  # the chat completions URL
    headers: dict[str, str]


@dataclass(slots=True)
class Outcome:
    """One request's result. ``ttft_s`` is for streams only (first non-empty content)."""

    ok: bool
    tokens: int = 0
    ttft_s: float | None = None
    error: str | None = None


def expected_text(tokens: int) -> str:
    """What the simulated backend answers for ``max_tokens=tokens``."""
    return "".join(f"w{i} " for i in range(tokens))


def request_body(tokens: int, *, stream: bool, token_delay_ms: float = 0.0) -> bytes:
    """A chat completion request body, serialised once and reused for every call."""
    body: dict[str, Any] = {
        "model": "sim-model",
        "messages": MESSAGES,
        "max_tokens": tokens,
        "stream": stream,
    }
    if token_delay_ms:
        body["sim_token_delay_ms"] = token_delay_ms
    return orjson.dumps(body)


def _fail(reason: str) -> Outcome:
    return Outcome(ok=False, error=reason)


async def call_plain(
    http: aiohttp.ClientSession, target: Target, body: bytes, expected: str
) -> Outcome:
    """One non-streamed request, checked."""
    try:
        async with http.post(target.url, data=body, headers=target.headers) as response:
            raw = await response.read()
            if response.status != 200:
                return _fail(f"HTTP {response.status}")
        content = orjson.loads(raw)["choices"][0]["message"]["content"]
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return _fail(type(exc).__name__)
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return _fail("malformed JSON answer")
    if content != expected:
        return _fail("content mismatch")
    return Outcome(ok=True, tokens=len(expected.split()))


class _SseCheck:
    """Incremental SSE parser for one stream: collects content deltas, notes [DONE]."""

    __slots__ = ("done", "error", "parts", "started", "ttft_s")

    def __init__(self, started: float) -> None:
        self.started = started
        self.parts: list[str] = []
        self.done = False
        self.error: str | None = None
        self.ttft_s: float | None = None

    def line(self, line: bytes) -> None:
        line = line.rstrip(b"\r")
        if not line or line.startswith(b":") or self.error is not None:
            return
        if self.done:
            self.error = "data after [DONE]"
            return
        if not line.startswith(b"data:"):
            return  # event:/id:/retry: fields carry no content here
        payload = line[5:].lstrip(b" ")
        if payload == b"[DONE]":
            self.done = True
            return
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self.error = "malformed SSE event"
            return
        if "error" in event:
            self.error = f"error event: {event['error'].get('code') or 'unknown'}"
            return
        choices = event.get("choices")
        if choices:
            content = (choices[0].get("delta") or {}).get("content")
            if content:
                if self.ttft_s is None:
                    self.ttft_s = time.perf_counter() - self.started
                self.parts.append(content)


async def call_stream(
    http: aiohttp.ClientSession, target: Target, body: bytes, expected: str
) -> Outcome:
    """One streamed request, parsed as its bytes arrive and checked at the end."""
    check = _SseCheck(time.perf_counter())
    try:
        async with http.post(target.url, data=body, headers=target.headers) as response:
            if response.status != 200:
                await response.read()
                return _fail(f"HTTP {response.status}")
            pending = b""
            async for chunk in response.content.iter_any():
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    check.line(line)
            if pending:
                check.line(pending)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return _fail(type(exc).__name__)
    if check.error is not None:
        return _fail(check.error)
    if not check.done:
        return _fail("no [DONE]")
    if "".join(check.parts) != expected:
        return _fail("content mismatch")
    return Outcome(ok=True, tokens=len(check.parts), ttft_s=check.ttft_s)


async def run_pool(
    call: Callable[[], Awaitable[Outcome]], *, requests: int, concurrency: int
) -> tuple[list[Outcome], float]:
    """Run ``requests`` calls on ``concurrency`` workers; returns outcomes and wall time."""
    remaining = iter(range(requests))
    outcomes: list[Outcome] = []

    async def worker() -> None:
        for _ in remaining:  # shared iterator: each request is taken by one worker
            try:
                outcomes.append(await call())
            except Exception as exc:  # a bug in a check must not hide the other results
                outcomes.append(_fail(f"exception {type(exc).__name__}"))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, requests))))
    return outcomes, time.perf_counter() - started
