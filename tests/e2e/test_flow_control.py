"""A slow consumer makes the backend wait; nobody buffers the answer without bound."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import psutil

from tests.harness import AgentProc, Circle, RelayProc, SimBackend, wait_for_model, wait_until

TOKENS = 12_000
PAD = 5_000  # each token ~5 kB: about 60 MB of SSE in all


def test_slow_consumer_stalls_the_backend_and_loses_nothing(
    circle: Circle,
    sim: SimBackend,
    start_relay: Callable[..., RelayProc],
    start_agent: Callable[..., AgentProc],
) -> None:
    relay = start_relay(settings={"stream_window_bytes": "65536"})
    start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    body = {
        "model": "sim-model",
        "messages": [{"role": "user", "content": "go"}],
        "max_tokens": TOKENS,
        "stream": True,
        "sim_word_pad": PAD,
    }
    with (
        httpx.Client(timeout=60) as http,
        http.stream(
            "POST",
            relay.url + "/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {circle.api_key}"},
        ) as response,
    ):
        chunks = response.iter_raw(65536)
        received = [next(chunks)]
        # The consumer stops reading. The backend must stall well before the end: what is
        # in flight is bounded by the tunnel window plus the sockets' buffers.
        last = -1

        def settled() -> bool:
            nonlocal last
            current = sim.state.bytes_streamed
            still, last = current == last, current
            return still

        wait_until(lambda: (time.sleep(0.25), settled())[1], 20, "the backend to stall")
        stalled_at = sim.state.bytes_streamed
        total = TOKENS * (PAD + 180)
        # Kernel socket buffers on three loopback hops hold a few MB each; the rest must
        # still be waiting in the backend.
        assert stalled_at < total / 2, f"backend wrote {stalled_at} of {total} bytes unread"
        relay_rss = psutil.Process(relay.popen.pid).memory_info().rss
        assert relay_rss < 150 * 1024 * 1024
        assert sim.state.in_flight == 1
        received.extend(chunks)  # the consumer reads again: everything arrives
    text = b"".join(received).decode()
    events = [e[len("data: ") :] for e in text.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    words = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert words == "".join(f"w{i}{'x' * PAD} " for i in range(TOKENS))
