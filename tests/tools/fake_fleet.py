"""A fleet of simulated nodes for trying the console by hand (not run by pytest).

Registers ``--nodes`` nodes in a group straight through the store, then opens one real
tunnel per node to the relay (node token -> JWT -> ``/tunnel/ws``, the agent's protocol
from :mod:`relay.protocol`), sends a heartbeat with changing GPU metrics every
``--interval`` seconds and answers forwarded requests with a small chat completion. With
``--traffic R`` it also sends R requests per second through the relay's OpenAI API, so
the console's request feed and tokens/s move.

    python -m tests.tools.fake_fleet --relay http://127.0.0.1:8080 \\
        --database-url sqlite:///path/relay.db --nodes 50 --traffic 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import time
from typing import Any

import aiohttp
import orjson

from relay.protocol import (
    PROTOCOL_VERSION,
    End,
    Heartbeat,
    Hello,
    HelloAck,
    ModelEntry,
    OpenStream,
    ResponseHead,
    codec,
    decode,
    encode,
    encode_data,
)
from relay.security import new_api_key, new_node_token
from storage import Conflict, Role, open_store

MODELS = ("llama3.1:8b", "qwen2.5:14b", "mistral:7b")


async def register(args: argparse.Namespace) -> tuple[list[tuple[str, str]], str | None]:
    """Create the group, its owner and the nodes (replacing same-named ones); an API key
    when traffic is wanted. Returns ([(name, token)], key)."""
    store = await open_store(args.database_url)
    try:
        group = await store.get_group_by_name(args.group) or await store.create_group(args.group)
        user = await store.get_user_by_name("fleet-owner")
        if user is None:
            user = await store.create_user("fleet-owner")
        with contextlib.suppress(Conflict):
            await store.add_member(group.id, user.id, Role.OWNER)
        names = [f"sim-{i:03d}" for i in range(1, args.nodes + 1)]
        for node in await store.list_nodes(group_id=group.id):
            if node.name in names and not node.revoked:
                await store.revoke_node(node.id)
        nodes = []
        for name in names:
            token, digest = new_node_token()
            await store.create_node(
                name=name, group_id=group.id, user_id=user.id, token_hash=digest
            )
            nodes.append((name, token))
        key = None
        if args.traffic > 0:
            secret, prefix, digest = new_api_key()
            await store.create_api_key(
                prefix=prefix,
                key_hash=digest,
                user_id=user.id,
                group_id=group.id,
                name=f"fleet-{int(time.time()) % 100000}",
            )
            key = secret
    finally:
        await store.close()
    return nodes, key


def gpu_metrics(index: int, gpus: int, t: float) -> list[dict[str, Any]]:
    """Smoothly changing, per-node-different metrics for ``gpus`` cards."""
    out = []
    for g in range(gpus):
        phase = index * 0.7 + g * 1.3
        util = max(0.0, min(100.0, 50 + 45 * math.sin(t / 8 + phase) + random.uniform(-5, 5)))
        total = 24576 if (index + g) % 2 else 16384
        out.append(
            {
                "index": g,
                "name": "NVIDIA GeForce RTX 4090" if total == 24576 else "NVIDIA RTX A4000",
                "vendor": "nvidia",
                "utilization_pct": round(util, 1),
                "memory_used_mb": round(total * (0.35 + 0.3 * (1 + math.sin(t / 20 + phase)) / 2)),
                "memory_total_mb": total,
                "temperature_c": round(38 + util * 0.45),
                "power_w": round(60 + util * 3.2),
            }
        )
    return out


def completion(model: str) -> tuple[bytes, int, int]:
    tokens = random.randint(20, 200)
    body = {
        "id": f"chatcmpl-{random.getrandbits(32):x}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "ok " * tokens},
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": tokens, "total_tokens": 12 + tokens},
    }
    return orjson.dumps(body), 12, tokens


async def run_node(
    http: aiohttp.ClientSession, args: argparse.Namespace, index: int, name: str, token: str
) -> None:
    base = args.relay.rstrip("/")
    ws_url = base.replace("http", "ws", 1) + "/tunnel/ws"
    models = [ModelEntry(m, loaded=(index + i) % 3 == 0) for i, m in enumerate(MODELS)]
    backend = {
        "kind": "ollama",
        "root_url": "http://127.0.0.1:11434",
        "version": "0.5.7",
        "reachable": True,
        "explicit": False,
        "has_api_key": False,
        "models": [],
    }
    split = getattr(codec, "split_frames", lambda frame: [frame])
    while True:
        try:
            async with http.post(
                base + "/tunnel/token", headers={"Authorization": f"Bearer {token}"}
            ) as response:
                jwt = (await response.json())["token"]
            async with http.ws_connect(ws_url, headers={"Authorization": f"Bearer {jwt}"}) as ws:
                await ws.send_bytes(
                    encode(
                        Hello(
                            protocol_version=PROTOCOL_VERSION,
                            agent_version="fake-fleet",
                            node_name=name,
                            models=tuple(models),
                            backends=(backend,),
                            gpus=tuple(gpu_metrics(index, args.gpus, time.time())),
                            max_concurrency=8,
                        )
                    )
                )
                ack = decode((await ws.receive()).data)
                assert isinstance(ack, HelloAck)
                beat = asyncio.create_task(heartbeats(ws, args, index))
                try:
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.BINARY:
                            continue
                        for frame in split(msg.data):
                            message = decode(frame)
                            if isinstance(message, OpenStream):
                                await answer(ws, message)
                finally:
                    beat.cancel()
        except (aiohttp.ClientError, OSError, KeyError, AssertionError, ValueError):
            pass
        await asyncio.sleep(1 + random.random())


async def heartbeats(
    ws: aiohttp.ClientWebSocketResponse, args: argparse.Namespace, index: int
) -> None:
    await asyncio.sleep(random.random() * args.interval)  # spread the fleet's heartbeats
    while True:
        gpus = tuple(gpu_metrics(index, args.gpus, time.time()))
        await ws.send_bytes(encode(Heartbeat(in_flight=0, gpus=gpus)))
        await asyncio.sleep(args.interval)


async def answer(ws: aiohttp.ClientWebSocketResponse, request: OpenStream) -> None:
    model = orjson.loads(request.body or b"{}").get("model", MODELS[0])
    await asyncio.sleep(random.uniform(0.05, 0.3))
    body, prompt, completion_tokens = completion(model)
    await ws.send_bytes(encode(ResponseHead(request.stream, 200, "application/json")))
    await ws.send_bytes(encode_data(request.stream, body))
    await ws.send_bytes(encode(End(request.stream, prompt, completion_tokens)))


async def traffic(http: aiohttp.ClientSession, args: argparse.Namespace, key: str) -> None:
    url = args.relay.rstrip("/") + "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {key}"}

    async def one() -> None:
        body = {"model": random.choice(MODELS), "messages": [{"role": "user", "content": "hi"}]}
        with contextlib.suppress(aiohttp.ClientError):
            async with http.post(url, json=body, headers=headers) as response:
                await response.read()

    tasks: set[asyncio.Task[None]] = set()
    while True:
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await asyncio.sleep(random.expovariate(args.traffic))


async def main_async(args: argparse.Namespace) -> None:
    nodes, key = await register(args)
    print(f"registered {len(nodes)} nodes in group {args.group!r}", flush=True)
    async with aiohttp.ClientSession() as http:
        jobs = [run_node(http, args, i, name, token) for i, (name, token) in enumerate(nodes)]
        if key is not None:
            jobs.append(traffic(http, args, key))
        await asyncio.gather(*jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relay", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--gpus", type=int, default=2, help="GPUs per node")
    parser.add_argument("--group", default="fleet")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between heartbeats")
    parser.add_argument("--traffic", type=float, default=0.0, help="requests per second")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
