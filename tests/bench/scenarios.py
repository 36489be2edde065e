"""The scenarios and how one is measured against one target.

Each scenario runs against ``direct`` (the backend) and then ``relay`` with the same
parameters, after a warm-up that opens the client's connections. Around the measured part a
:class:`~tests.bench.procs.Sampler` records CPU seconds and peak RSS of every process.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
import psutil

from tests.bench.load import Target, call_plain, call_stream, expected_text, request_body, run_pool
from tests.bench.procs import MIB, Sampler


@dataclass(frozen=True)
class Scenario:
    """One workload. ``requests`` is the measured count; warm-up comes on top."""

    key: str
    title: str
    stream: bool
    tokens: int
    concurrency: int
    requests: int
    warmup: int
    token_delay_ms: float = 0.0

    def describe(self) -> str:
        kind = "stream" if self.stream else "non-stream"
        delay = f", {self.token_delay_ms:g} ms/token" if self.token_delay_ms else ""
        return (
            f"{self.title}: {kind}, {self.tokens} tokens{delay}, "
            f"concurrency {self.concurrency}, {self.requests} requests"
        )


def scenarios(quick: bool) -> list[Scenario]:
    """All scenarios, with smaller counts in quick mode."""
    q = quick
    return [
        Scenario(
            "S0",
            "sequential TTFT",
            stream=True,
            tokens=16,
            concurrency=1,
            requests=150 if q else 500,
            warmup=20 if q else 30,
        ),
        Scenario(
            "S1",
            "non-streaming throughput",
            stream=False,
            tokens=16,
            concurrency=32,
            requests=400 if q else 5000,
            warmup=64,
        ),
        Scenario(
            "S2",
            "streaming forwarding cost",
            stream=True,
            tokens=64,
            concurrency=32,
            requests=200 if q else 2000,
            warmup=64,
        ),
        Scenario(
            "S3",
            "many slow streams",
            stream=True,
            tokens=50,
            concurrency=256,
            requests=256 if q else 1024,
            warmup=256,
            token_delay_ms=20.0,
        ),
    ]


def percentile(values: list[float], pct: float) -> float | None:
    """Linear-interpolated percentile (``pct`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Result:
    """The figures of one scenario against one target."""

    requests: int
    ok: int
    errors: int
    error_kinds: dict[str, int]
    wall_s: float
    requests_per_s: float
    tokens_per_s: float | None
    ttft_p50_ms: float | None
    ttft_p99_ms: float | None
    cpu_s: dict[str, float]
    peak_rss_mb: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


async def measure(
    scenario: Scenario,
    target: Target,
    http: aiohttp.ClientSession,
    procs: dict[str, psutil.Process],
) -> Result:
    """Warm up, then run the scenario against ``target`` and sample resources meanwhile."""
    call_fn = call_stream if scenario.stream else call_plain
    expected = expected_text(scenario.tokens)
    warm_body = request_body(scenario.tokens, stream=scenario.stream)
    warm = functools.partial(call_fn, http, target, warm_body, expected)
    await run_pool(warm, requests=scenario.warmup, concurrency=scenario.concurrency)

    body = request_body(
        scenario.tokens, stream=scenario.stream, token_delay_ms=scenario.token_delay_ms
    )
    call = functools.partial(call_fn, http, target, body, expected)
    async with Sampler(procs) as usage:
        outcomes, wall = await run_pool(
            call, requests=scenario.requests, concurrency=scenario.concurrency
        )
    good = [o for o in outcomes if o.ok]
    ttfts = [o.ttft_s for o in good if o.ttft_s is not None]
    kinds = Counter(o.error or "unknown" for o in outcomes if not o.ok)
    return Result(
        requests=len(outcomes),
        ok=len(good),
        errors=len(outcomes) - len(good),
        error_kinds=dict(kinds),
        wall_s=wall,
        requests_per_s=len(good) / wall if wall else 0.0,
        tokens_per_s=sum(o.tokens for o in good) / wall if scenario.stream and wall else None,
        ttft_p50_ms=_ms(percentile(ttfts, 50)),
        ttft_p99_ms=_ms(percentile(ttfts, 99)),
        cpu_s=dict(usage.cpu_s),
        peak_rss_mb={name: rss / MIB for name, rss in usage.peak_rss.items()},
    )
