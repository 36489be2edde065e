"""``just demo``: a whole circle on this machine, ready for an OpenAI client.

Starts a relay on SQLite under ./data, bootstraps a group, a user, a key and a node with
the admin CLI, and starts an agent. If Ollama or LM Studio is running here the agent
uses it; otherwise a clearly labelled simulated backend is started. Prints the base URL,
the key and ready-to-paste snippets, then waits for Ctrl-C and stops everything.

``--check`` sends one chat request through the relay and exits (used by the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx

from agent.detect import fingerprint
from agent.sim.openai import SIM_NOTICE
from relay.cli import main as relay_cli
from relay.server import free_port

LOCAL_ENGINES = {11434: "Ollama", 1234: "LM Studio"}


def cli(db: str, *args: str) -> dict[str, object]:
    """Run an admin command in-process, as `llmcluster-relay --json ...` would."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = relay_cli(["--database-url", db, "--json", *args])
    if code != 0:
        raise SystemExit(f"llmcluster-relay {' '.join(args)} failed")
    result: dict[str, object] = json.loads(out.getvalue())
    return result


async def local_engine() -> tuple[str, str] | None:
    """(name, base URL) of a running Ollama or LM Studio, if any."""
    async with aiohttp.ClientSession() as http:
        for port, name in LOCAL_ENGINES.items():
            found = await fingerprint(http, f"http://127.0.0.1:{port}", timeout=1.0)
            if found is not None and found.models:
                return name, found.root_url
    return None


def wait_for(url: str, headers: dict[str, str], ready: object, timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(url, headers=headers, timeout=2)
            if response.status_code == 200 and (ready is None or ready(response.json())):  # type: ignore[operator]
                return response.json()
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--check", action="store_true", help="one request, then exit")
    args = parser.parse_args(argv)

    data = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    for old in data.glob("demo.db*"):
        old.unlink()
    db = f"sqlite:///{data / 'demo.db'}"
    port = args.port if _port_free(args.port) else free_port()

    cli(db, "init")
    cli(db, "group", "create", "demo")
    cli(db, "user", "add", "me")
    cli(db, "member", "add", "--group", "demo", "--user", "me", "--role", "owner")
    key = str(cli(db, "key", "create", "--user", "me", "--group", "demo", "--name", "demo")["key"])
    token = str(cli(db, "node", "add", "--group", "demo", "--name", "this-machine")["token"])

    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMCLUSTER_")}
    logs = data / "demo-logs"
    logs.mkdir(exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, *cmd: str) -> subprocess.Popen[bytes]:
        log = (logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, *cmd], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        procs.append(proc)
        return proc

    engine = asyncio.run(local_engine())
    try:
        spawn("relay", "-m", "relay", "--database-url", db, "serve", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/healthz", {}, None)
        agent_args = [
            "-m",
            "agent",
            "run",
            "--relay",
            base,
            "--token",
            token,
            "--name",
            "this-machine",
        ]
        if engine is None:
            sim_port = free_port()
            spawn(
                "simulated-backend",
                "-m",
                "agent.sim.openai",
                "--port",
                str(sim_port),
                "--model",
                "demo-model",
                "--token-delay-ms",
                "30",
            )
            wait_for(f"http://127.0.0.1:{sim_port}/v1/models", {}, None)
            agent_args += ["--no-scan", "--backend", f"http://127.0.0.1:{sim_port}/v1"]
            backend = f"simulated OpenAI backend ({SIM_NOTICE})"
        else:
            agent_args += ["--backend", engine[1]]
            backend = f"{engine[0]} at {engine[1]}"
        spawn("agent", *agent_args)
        auth = {"Authorization": f"Bearer {key}"}
        models = wait_for(base + "/v1/models", auth, lambda body: bool(body["data"]))
        model = models["data"][0]["id"]  # type: ignore[index]
        _print_banner(base, key, model, backend, logs)
        if args.check:
            return _check(base, key, model)
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        signal.sigwait(stop_signals)
        print("\nstopping...")
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _check(base: str, key: str, model: str) -> int:
    import openai

    client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hello"}], max_tokens=8, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    print(f"check: streamed {text!r}")
    return 0 if text else 1


def _print_banner(base: str, key: str, model: str, backend: str, logs: Path) -> None:
    print(
        f"""
LLM Cluster demo is running.
  backend : {backend}
  base URL: {base}/v1
  API key : {key}
  model   : {model}
  logs    : {logs}

curl:
  curl {base}/v1/chat/completions -H "Authorization: Bearer {key}" \\
    -H "Content-Type: application/json" \\
    -d '{{"model": "{model}", "stream": true,
         "messages": [{{"role": "user", "content": "Hello"}}]}}'

Python (pip install openai):
  from openai import OpenAI
  client = OpenAI(base_url="{base}/v1", api_key="{key}")
  for chunk in client.chat.completions.create(model="{model}", stream=True,
          messages=[{{"role": "user", "content": "Hello"}}]):
      print(chunk.choices[0].delta.content or "" if chunk.choices else "", end="", flush=True)

Press Ctrl-C to stop.""",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
