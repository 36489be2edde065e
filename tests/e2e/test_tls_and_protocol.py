"""TLS between agent and relay, and the protocol's own guard rails on a live relay."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import openai
import pytest
import trustme

from relay.protocol import PROTOCOL_VERSION, Hello, encode
from tests.harness import AgentProc, Circle, RelayProc, SimBackend, wait_for_model


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate for 127.0.0.1/localhost signed by it."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path, ca_path = (tmp_path / n for n in ("cert.pem", "key.pem", "ca.pem"))
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    ca.cert_pem.write_to_path(str(ca_path))
    return cert_path, key_path, ca_path


def test_agent_and_sdk_over_tls_with_a_private_ca(
    tls_files: tuple[Path, Path, Path],
    circle: Circle,
    sim: SimBackend,
    start_relay: Callable[..., RelayProc],
    start_agent: Callable[..., AgentProc],
) -> None:
    cert, key, ca = tls_files
    trust = ssl.create_default_context(cafile=str(ca))
    relay = start_relay(tls=(cert, key), verify=trust)
    assert relay.url.startswith("https://")
    start_agent(relay.url, circle.node_token, sim.base_url, extra_args=["--ca-bundle", str(ca)])
    wait_for_model(relay.url, circle.api_key, "sim-model", verify=trust)
    client = openai.OpenAI(
        base_url=relay.url + "/v1",
        api_key=circle.api_key,
        max_retries=0,
        http_client=openai.DefaultHttpxClient(verify=trust),
    )
    stream = client.chat.completions.create(
        model="sim-model", messages=[{"role": "user", "content": "hi"}], max_tokens=3, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "w0 w1 w2 "


def test_agent_refuses_a_relay_certificate_it_cannot_verify(
    tls_files: tuple[Path, Path, Path],
    circle: Circle,
    sim: SimBackend,
    start_relay: Callable[..., RelayProc],
    start_agent: Callable[..., AgentProc],
) -> None:
    cert, key, ca = tls_files
    trust = ssl.create_default_context(cafile=str(ca))
    relay = start_relay(tls=(cert, key), verify=trust)
    agent = start_agent(relay.url, circle.node_token, sim.base_url)  # no --ca-bundle
    with pytest.raises(TimeoutError):
        wait_for_model(relay.url, circle.api_key, "sim-model", verify=trust, timeout=3)
    assert "CERTIFICATE_VERIFY_FAILED" in agent.output()


def test_agent_refuses_plain_ws_to_a_remote_relay(circle: Circle, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent",
            "run",
            "--relay",
            "http://relay.example:8080",
            "--token",
            circle.node_token,
            "--no-scan",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unencrypted" in done.stderr
    assert circle.node_token not in done.stderr


async def _tunnel_token(relay: RelayProc, http: aiohttp.ClientSession, node_token: str) -> str:
    async with http.post(
        relay.url + "/tunnel/token", headers={"Authorization": f"Bearer {node_token}"}
    ) as response:
        assert response.status == 200
        token: str = (await response.json())["token"]
        return token


async def test_protocol_version_mismatch_closes_with_a_clear_reason(
    relay: RelayProc, circle: Circle
) -> None:
    async with aiohttp.ClientSession() as http:
        jwt = await _tunnel_token(relay, http, circle.node_token)
        async with http.ws_connect(
            relay.url + "/tunnel/ws", headers={"Authorization": f"Bearer {jwt}"}
        ) as ws:
            await ws.send_bytes(encode(Hello(PROTOCOL_VERSION + 1, "9.9", "future-rig")))
            msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert msg.data == 4001
    assert "protocol version mismatch" in msg.extra


async def test_tunnel_needs_a_valid_jwt_not_the_node_token(
    relay: RelayProc, circle: Circle
) -> None:
    # a refused upgrade ends the connection, so none is reused between attempts
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        for header in (
            {},
            {"Authorization": f"Bearer {circle.node_token}"},
            {"Authorization": "Bearer a.b.c"},
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await http.ws_connect(relay.url + "/tunnel/ws", headers=header)
            assert info.value.status == 401
        async with http.post(
            relay.url + "/tunnel/token", headers={"Authorization": "Bearer llmcn-wrong"}
        ) as response:
            assert response.status == 401


async def test_garbage_frames_close_the_tunnel(relay: RelayProc, circle: Circle) -> None:
    async with aiohttp.ClientSession() as http:
        jwt = await _tunnel_token(relay, http, circle.node_token)
        async with http.ws_connect(
            relay.url + "/tunnel/ws", headers={"Authorization": f"Bearer {jwt}"}
        ) as ws:
            await ws.send_bytes(encode(Hello(PROTOCOL_VERSION, "0.1", "rig")))
            assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.BINARY  # hello_ack
            await ws.send_bytes(b"\x00{not json")
            msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert msg.data == 4002
