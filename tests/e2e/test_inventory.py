"""What the relay learns about a rig: models and loaded state per engine, GPU metrics,
changes pushed on rescan; and the provider's side: agent init, graceful drain, the demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from agent.cli import main as agent_main
from agent.sim._common import EngineSim
from agent.sim.ollama import OllamaState, SimulatedOllama
from config import load_agent_settings
from relay.server import free_port
from storage import open_store
from tests.e2e.engines import Engine
from tests.harness import (
    AgentProc,
    BackgroundLoop,
    Circle,
    RelayProc,
    SimBackend,
    run_async,
    wait_for_model,
    wait_until,
)
from tests.relay.admin.support import issue_token

FAKES = Path(__file__).resolve().parents[1] / "fakes" / "bin"


def admin_token(circle: Circle) -> str:
    """An admin token for the circle's owner (a group admin of its group)."""

    async def issue() -> str:
        store = await open_store(circle.database_url)
        try:
            return await issue_token(store, circle.user_id)
        finally:
            await store.close()

    return run_async(issue)


def live_nodes(relay: RelayProc, token: str) -> list[dict[str, Any]]:
    response = httpx.get(
        relay.url + "/admin/api/snapshot", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    response.raise_for_status()
    return [n for n in response.json()["nodes"] if n["status"] != "offline"]


def models_of_node(relay: RelayProc, token: str) -> dict[str, bool]:
    nodes = live_nodes(relay, token)
    return {m["id"]: m["loaded"] for n in nodes for m in n["models"]}


EXPECTED_LOADED = {
    "ollama": {"llama3.1:8b": True, "nomic-embed-text": False},
    "lmstudio": {"meta-llama-3.1-8b-instruct": True, "qwen2.5-7b-instruct": False},
    "llamacpp": {"llama-3.1-8b": True},
    "vllm": {"meta-llama/Llama-3.1-8B-Instruct": True},
}


def test_each_engine_is_detected_and_its_loaded_state_reaches_the_relay(
    engine: tuple[Engine, EngineSim],
    relay: RelayProc,
    circle: Circle,
    start_agent: Callable[..., AgentProc],
) -> None:
    spec, sim = engine
    # found by scanning its port, not by being named
    start_agent(
        relay.url,
        circle.node_token,
        None,
        env={"LLMCLUSTER_AGENT_SCAN_PORTS": str(sim.port)},
        scan=True,
    )
    token = admin_token(circle)
    wait_until(lambda: bool(live_nodes(relay, token)), what="the node to come online")
    wait_for_model(relay.url, circle.api_key, spec.model)
    seen = models_of_node(relay, token)
    for model, loaded in EXPECTED_LOADED[spec.name].items():
        assert seen.get(model) is loaded, (model, seen)
    backends = live_nodes(relay, token)[0]["backends"]
    assert [b["kind"] for b in backends] == [spec.name]


def test_gpu_metrics_reach_the_relay_in_heartbeats(
    relay: RelayProc,
    circle: Circle,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    path = f"{FAKES}{os.pathsep}{os.environ.get('PATH', '')}"  # a fake nvidia-smi, no NVML
    start_agent(
        relay.url,
        circle.node_token,
        sim.base_url,
        env={"PATH": path, "LLMCLUSTER_AGENT_GPU_SAMPLE_INTERVAL_S": "0.2"},
    )
    token = admin_token(circle)

    def gpus() -> list[dict[str, Any]] | None:
        nodes = live_nodes(relay, token)
        return nodes[0]["gpus"] if nodes else None

    wait_until(lambda: bool(gpus()), what="GPU metrics in a heartbeat")
    first, second = gpus() or []
    assert first["name"] == "NVIDIA GeForce RTX 4090"
    assert first["utilization_pct"] == 37 and first["memory_total_mb"] == 24564
    assert second["utilization_pct"] is None  # [N/A] stays unknown, not zero


def test_a_model_loaded_later_is_reported_without_waiting_for_a_heartbeat(
    background_loop: BackgroundLoop,
    relay: RelayProc,
    circle: Circle,
    start_agent: Callable[..., AgentProc],
) -> None:
    state = OllamaState(models=["m1"], loaded=[])
    sim = SimulatedOllama(state)
    background_loop.run(sim.start())
    try:
        start_agent(
            relay.url,
            circle.node_token,
            sim.root_url,
            env={
                "LLMCLUSTER_AGENT_SCAN_INTERVAL_S": "0.3",
                "LLMCLUSTER_AGENT_HEARTBEAT_INTERVAL_S": "30",
            },
        )
        token = admin_token(circle)
        wait_until(
            lambda: models_of_node(relay, token).get("m1") is False, what="m1 listed as not loaded"
        )

        async def load() -> None:
            state.load("m1:latest")

        background_loop.run(load())
        wait_until(
            lambda: models_of_node(relay, token).get("m1") is True,
            timeout=5,
            what="m1 reported as loaded",
        )
    finally:
        background_loop.run(sim.stop())


def test_agent_drains_on_sigterm_and_in_flight_streams_finish(
    relay: RelayProc,
    circle: Circle,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    agent = start_agent(relay.url, circle.node_token, sim.base_url)
    wait_for_model(relay.url, circle.api_key, "sim-model")
    body = {
        "model": "sim-model",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "max_tokens": 40,
        "sim_token_delay_ms": 25,
    }
    with httpx.stream(
        "POST",
        relay.url + "/v1/chat/completions",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {circle.api_key}"},
    ) as response:
        chunks = response.iter_bytes()
        first = next(chunks)
        agent.send_signal(signal.SIGTERM)  # mid-answer
        rest = b"".join(chunks)
    assert (first + rest).endswith(b"data: [DONE]\n\n")
    assert b"w39 " in first + rest
    assert agent.popen.wait(15) == 0
    wait_for_model(relay.url, circle.api_key, "sim-model", present=False, timeout=5)


def test_agent_init_writes_a_private_config_that_run_reads(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    code = agent_main(
        [
            "init",
            "--relay",
            "https://relay.example",
            "--token",
            "llmcn-secret",
            "--config",
            str(path),
            "--backend",
            "http://127.0.0.1:8000/v1",
        ]
    )
    assert code == 0
    assert path.stat().st_mode & 0o777 == 0o600
    settings = load_agent_settings(path)
    assert settings.relay_url == "https://relay.example"
    assert settings.token == "llmcn-secret"
    assert [b.url for b in settings.backends] == ["http://127.0.0.1:8000/v1"]


def test_the_demo_serves_a_request(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.demo",
            "--check",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "check: streamed 'w0 w1 w2 w3 w4 w5 w6 w7 '" in done.stdout
    assert "SIMULATED BACKEND" in done.stdout or "backend :" in done.stdout
