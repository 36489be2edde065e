"""What happens when things go wrong: consumers hang up, agents die, relays restart."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Callable

import httpx
import openai
import pytest

from storage import open_store
from tests.harness import (
    AgentProc,
    Circle,
    RelayProc,
    SimBackend,
    run_async,
    wait_for_model,
    wait_until,
)

MESSAGES = [{"role": "user", "content": "hello"}]


def _stream_request(relay: RelayProc, circle: Circle, **extra: object) -> httpx.Request:
    body = {"model": "sim-model", "messages": MESSAGES, "stream": True, **extra}
    return httpx.Request(
        "POST",
        relay.url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {circle.api_key}"},
    )


def _interrupted_stream(
    relay: RelayProc, circle: Circle, interrupt: Callable[[], object], **body: object
) -> tuple[list[str], float]:
    """Start a streamed request, call ``interrupt`` once its first event arrived, and read
    the rest: (the remaining lines, the monotonic time of the interruption)."""
    with httpx.Client(timeout=30) as http:
        response = http.send(_stream_request(relay, circle, **body), stream=True)
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        interrupt()
        interrupted = time.monotonic()
        rest = list(lines)
    return rest, interrupted


def _raw_request(relay: RelayProc, circle: Circle, body: dict[str, object]) -> socket.socket:
    """Send a request on a bare socket, so the test can hang up at any moment."""
    payload = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", relay.port))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: relay\r\n"
        b"Authorization: Bearer " + circle.api_key.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(payload)).encode()
        + b"\r\n\r\n"
        + payload
    )
    return sock


@pytest.mark.usefixtures("agent")
def test_cancel_before_first_token_reaches_backend(
    relay: RelayProc, circle: Circle, sim: SimBackend
) -> None:
    """The consumer hangs up while the backend is still 'thinking': within 1 s the
    backend's connection is closed."""
    sock = _raw_request(
        relay,
        circle,
        {
            "model": "sim-model",
            "messages": MESSAGES,
            "stream": True,
            "sim_first_token_delay_ms": 30_000,
        },
    )
    wait_until(lambda: sim.state.in_flight == 1, 10, "the backend to get the request")
    started = time.monotonic()
    sock.close()  # the consumer disconnects before any byte of the answer
    assert sim.wait_disconnect(timeout=5)
    assert time.monotonic() - started < 1.0


@pytest.mark.usefixtures("agent")
def test_cancel_mid_stream_reaches_backend(
    relay: RelayProc, circle: Circle, sim: SimBackend
) -> None:
    request = _stream_request(relay, circle, max_tokens=10_000, sim_token_delay_ms=10)
    with httpx.Client(timeout=30) as http:
        response = http.send(request, stream=True)
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        started = time.monotonic()
        response.close()
    assert sim.wait_disconnect(timeout=5)
    assert time.monotonic() - started < 1.0


def test_killed_agent_ends_stream_with_error_event(
    relay: RelayProc,
    circle: Circle,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    agent = start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    rest, interrupted = _interrupted_stream(
        relay,
        circle,
        lambda: agent.stop(signal.SIGKILL),
        max_tokens=10_000,
        sim_token_delay_ms=10,
    )
    data = [line for line in rest if line.startswith("data: ")]
    assert '"error"' in data[-1]
    assert "data: [DONE]" not in data
    assert time.monotonic() - interrupted < 2 + 1  # within the heartbeat timeout (2 s here)


def test_stopped_agent_is_detected_by_missing_heartbeats(
    relay: RelayProc,
    circle: Circle,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    """SIGSTOP keeps the TCP connection open: only the heartbeat timeout can tell."""
    agent = start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    request = _stream_request(relay, circle, max_tokens=10_000, sim_token_delay_ms=10)
    c = openai.OpenAI(base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0)
    with httpx.Client(timeout=30) as http:
        response = http.send(request, stream=True)
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        agent.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            rest = list(lines)
            assert '"error"' in [x for x in rest if x.startswith("data: ")][-1]
            assert time.monotonic() - started < 2 + 1.5
            # the node is offline now: a new request is refused at once, not hung
            with pytest.raises(openai.APIStatusError) as info:
                c.chat.completions.create(model="sim-model", messages=MESSAGES)
            assert info.value.status_code == 503
        finally:
            agent.send_signal(signal.SIGCONT)


def test_non_streaming_request_on_dying_agent_gets_502(
    relay: RelayProc,
    circle: Circle,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    agent = start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    result: dict[str, object] = {}

    def call() -> None:
        c = openai.OpenAI(base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0)
        try:
            c.chat.completions.create(
                model="sim-model",
                messages=MESSAGES,
                extra_body={"sim_first_token_delay_ms": 30_000},
            )
        except openai.APIStatusError as exc:
            result["status"] = exc.status_code
            result["body"] = exc.body

    thread = threading.Thread(target=call)
    thread.start()
    wait_until(lambda: sim.state.in_flight == 1, 10, "the backend to get the request")
    agent.stop(signal.SIGKILL)
    thread.join(10)
    assert result["status"] == 502
    assert set(result["body"]) >= {"message", "type", "param", "code"}  # type: ignore[arg-type]


def test_agent_reconnects_after_relay_restart(
    start_relay: Callable[..., RelayProc],
    circle: Circle,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    relay = start_relay()
    start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    relay.stop()
    again = start_relay(port=relay.port)
    wait_for_model(again.url, circle.api_key, "sim-model", timeout=30)
    c = openai.OpenAI(base_url=again.url + "/v1", api_key=circle.api_key, max_retries=0)
    assert (
        c.chat.completions.create(model="sim-model", messages=MESSAGES, max_tokens=2)
        .choices[0]
        .message.content
        == "w0 w1 "
    )


def test_revoked_node_is_disconnected_and_stops(
    relay: RelayProc,
    circle: Circle,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    agent = start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")

    async def revoke() -> None:
        store = await open_store(circle.database_url)
        try:
            assert await store.revoke_node(circle.node_id)
        finally:
            await store.close()

    run_async(revoke)
    wait_for_model(relay.url, circle.api_key, "sim-model", present=False, timeout=5)
    assert agent.popen.wait(15) == 3  # the relay refuses its token: a fatal error
    assert "revoked" in agent.output()


def test_agent_refuses_routes_outside_its_allow_list(
    relay: RelayProc,
    circle: Circle,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    start_agent(
        relay.url,
        circle.node_token,
        sim.base_url,
        env={"LLMCLUSTER_AGENT_ALLOWED_ROUTES": "/v1/chat/completions"},
    )
    wait_for_model(relay.url, circle.api_key, "sim-model")
    c = openai.OpenAI(base_url=relay.url + "/v1", api_key=circle.api_key, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as info:
        c.embeddings.create(model="sim-model", input="x")
    assert info.value.code == "route_not_allowed"
    assert all(r.path != "/v1/embeddings" for r in sim.state.requests)
    assert c.chat.completions.create(model="sim-model", messages=MESSAGES).choices


def test_relay_stops_promptly_once_its_streams_are_done(
    relay: RelayProc,
    circle: Circle,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    """SIGTERM: the stream in flight completes, then the tunnels close and the relay exits
    without waiting out the server's graceful timeout (5 s) on open WebSockets."""
    agent = start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    rest, stopped = _interrupted_stream(
        relay,
        circle,
        lambda: relay.send_signal(signal.SIGTERM),
        max_tokens=20,
        sim_token_delay_ms=20,
    )
    assert "data: [DONE]" in rest
    assert relay.popen.wait(10) == 0
    assert time.monotonic() - stopped < 3.0
    assert agent.popen.poll() is None  # the agent stays up, reconnecting
