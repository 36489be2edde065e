"""The admin socket against a live relay with real agents: a snapshot, then coalesced
updates as nodes come and go and requests finish; commands answered on the same socket."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import pytest

from storage import open_store
from tests.harness import AgentProc, RelayProc, SimBackend, wait_for_model
from tests.relay.admin.support import World, api, issue_token, open_socket

Frame = dict[str, Any]


def node_named(frame: Frame, name: str) -> Frame | None:
    return next((n for n in frame.get("nodes", []) if n["name"] == name), None)


def status_of(name: str, status: str) -> Callable[[Frame], bool]:
    def check(frame: Frame) -> bool:
        node = node_named(frame, name)
        return node is not None and node["status"] == status

    return check


async def test_a_node_appears_online_then_offline(
    admin_relay: RelayProc,
    world: World,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    sock = await open_socket(admin_relay.url, world.tokens["alice"])
    try:
        snapshot = await sock.next()
        assert snapshot["type"] == "snapshot"
        assert snapshot["me"]["name"] == "alice"
        assert node_named(snapshot, "rig-1")["status"] == "offline"  # type: ignore[index]
        assert node_named(snapshot, "rig-2") is None  # another group's node
        agent = start_agent(admin_relay.url, world.nodes["rig-1"][1], sim.base_url, name="rig-1")
        online = await sock.until(status_of("rig-1", "online"), timeout=20)
        node = node_named(online, "rig-1")
        assert node is not None and node["group"] == "friends"
        assert [m["id"] for m in node["models"]] == ["sim-model"]
        assert node["backends"] and node["max_concurrency"] >= 1
        agent.stop(signal.SIGKILL)
        await sock.until(status_of("rig-1", "offline"), timeout=20)
    finally:
        await sock.close()


async def test_requests_are_coalesced_into_few_updates(
    world: World,
    sim: SimBackend,
    start_relay: Callable[..., RelayProc],
    start_agent: Callable[..., AgentProc],
) -> None:
    interval = 0.5
    admin_relay = start_relay(settings={"admin_update_interval_s": str(interval)})
    start_agent(admin_relay.url, world.nodes["rig-1"][1], sim.base_url, name="rig-1")
    key = world.keys["laptop"][1]
    await asyncio.to_thread(wait_for_model, admin_relay.url, key, "sim-model")
    sock = await open_socket(admin_relay.url, world.tokens["alice"])
    other = await open_socket(admin_relay.url, world.tokens["carol"])
    count = 40
    try:
        await sock.next()
        await other.next()
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=admin_relay.url, timeout=30) as http:
            body = {"model": "sim-model", "messages": [{"role": "user", "content": "hi"}]}
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/v1/chat/completions",
                        json=body,
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    for _ in range(count)
                )
            )
        assert all(a.status_code == 200 for a in answers)
        seen: list[Frame] = []
        while sum(len(f.get("requests", [])) for f in seen) < count:
            seen.append(await sock.until(lambda f: f["type"] == "update"))
        elapsed = time.monotonic() - started
        carrying = [f for f in seen if f.get("requests")]
        # At most one update per interval, however slowly the requests trickle in, so
        # fewer updates than requests.
        assert len(carrying) <= elapsed / interval + 2
        assert len(carrying) < count
        request = carrying[-1]["requests"][-1]
        assert request["key_name"] == "laptop" and request["node_name"] == "rig-1"
        assert request["status"] == 200 and request["model"] == "sim-model"
        assert "user_id" not in request  # trimmed to what the feed shows
        final = await sock.until(lambda f: bool(node_named(f, "rig-1")), timeout=5)
        assert node_named(final, "rig-1")["tokens_per_s"] > 0  # type: ignore[index]
        # carol (another group) saw none of those requests.
        with pytest.raises(TimeoutError):
            await other.until(lambda f: bool(f.get("requests")), timeout=0.6)
    finally:
        await sock.close()
        await other.close()


async def test_commands_over_the_socket(admin_relay: RelayProc, world: World) -> None:
    sock = await open_socket(admin_relay.url, world.tokens["alice"])
    try:
        await sock.next()
        created = await sock.command("key.create", group="friends", name="sock-key")
        assert created["ok"] is True
        assert created["result"]["secret"].startswith("llmc-")
        refused = await sock.command("key.create", group="others", name="nope")
        assert refused["ok"] is False
        assert refused["error"]["code"] == "not_found"
        assert set(refused["error"]) == {"message", "type", "param", "code"}
        # The change shows up in the live view too.
        update = await sock.until(lambda f: f["type"] == "update" and "keys" in f)
        assert "sock-key" in [k["name"] for k in update["keys"]]
        await sock.ws.send_str("not json")
        garbled = await sock.until(lambda f: f["type"] == "result")
        assert garbled["ok"] is False and garbled["id"] is None
    finally:
        await sock.close()


async def test_other_consoles_see_a_change_at_once(admin_relay: RelayProc, world: World) -> None:
    watcher = await open_socket(admin_relay.url, world.tokens["root"])
    try:
        await watcher.next()
        await asyncio.to_thread(
            api(admin_relay.url, world.tokens["alice"]).post,
            "/groups/friends/members",
            json={"user": "erin", "create_user": True},
        )
        update = await watcher.until(lambda f: "groups" in f, timeout=5)
        friends = next(g for g in update["groups"] if g["name"] == "friends")
        assert "erin" in [m["name"] for m in friends["members"]]
    finally:
        await watcher.close()


async def test_drain_and_resume_a_live_node(
    admin_relay: RelayProc,
    world: World,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    start_agent(admin_relay.url, world.nodes["rig-1"][1], sim.base_url, name="rig-1")
    key = world.keys["laptop"][1]
    await asyncio.to_thread(wait_for_model, admin_relay.url, key, "sim-model")
    sock = await open_socket(admin_relay.url, world.tokens["alice"])
    try:
        await sock.next()
        node_id = world.nodes["rig-1"][0]
        assert (await sock.command("node.drain", node=node_id))["ok"] is True
        drained = await sock.until(status_of("rig-1", "draining"))
        assert node_named(drained, "rig-1")["drained"] is True  # type: ignore[index]
        # A drained node gets no new requests: its model is no longer offered.
        await asyncio.to_thread(
            wait_for_model, admin_relay.url, key, "sim-model", present=False, timeout=5
        )
        assert (await sock.command("node.resume", node=node_id))["ok"] is True
        await sock.until(status_of("rig-1", "online"))
        await asyncio.to_thread(wait_for_model, admin_relay.url, key, "sim-model", timeout=5)
    finally:
        await sock.close()


async def test_the_socket_closes_when_the_token_expires(
    admin_relay: RelayProc, world: World
) -> None:
    async def short_token() -> str:
        store = await open_store(world.database_url)
        try:
            return await issue_token(store, world.users["alice"], ttl_s=2)
        finally:
            await store.close()

    sock = await open_socket(admin_relay.url, await short_token())
    try:
        await sock.next()
        while True:
            msg = await sock.ws.receive(timeout=10)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert sock.ws.close_code == 4401
    finally:
        await sock.close()


async def test_the_socket_closes_when_rights_are_withdrawn(
    admin_relay: RelayProc, world: World
) -> None:
    sock = await open_socket(admin_relay.url, world.tokens["carol"])
    try:
        await sock.next()
        root = api(admin_relay.url, world.tokens["root"])
        await asyncio.to_thread(root.patch, "/groups/others/members/carol", json={"role": "member"})
        while True:
            msg = await sock.ws.receive(timeout=10)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert sock.ws.close_code == 4403
    finally:
        await sock.close()


async def test_usage_counts_the_requests_served(
    admin_relay: RelayProc,
    world: World,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    start_agent(admin_relay.url, world.nodes["rig-1"][1], sim.base_url, name="rig-1")
    key = world.keys["laptop"][1]
    await asyncio.to_thread(wait_for_model, admin_relay.url, key, "sim-model")
    async with httpx.AsyncClient(base_url=admin_relay.url, timeout=30) as http:
        body = {"model": "sim-model", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(3):
            answer = await http.post(
                "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            assert answer.status_code == 200
    alice = api(admin_relay.url, world.tokens["alice"])
    deadline = time.monotonic() + 15
    while True:  # usage is written in batches, a moment after the requests
        usage = (await asyncio.to_thread(alice.get, "/usage?window=1h&by=key")).json()
        if usage["rows"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert [(r["name"], r["requests"]) for r in usage["rows"]] == [("laptop", 3)]
    assert usage["rows"][0]["total_tokens"] > 0
    assert sum(usage["series"]["tokens"]) == usage["rows"][0]["total_tokens"]
    by_node = (await asyncio.to_thread(alice.get, "/usage?window=1h&by=node")).json()
    assert [r["name"] for r in by_node["rows"]] == ["rig-1"]
    carol = api(admin_relay.url, world.tokens["carol"])
    assert (await asyncio.to_thread(carol.get, "/usage?window=1h")).json()["rows"] == []


async def test_an_alias_set_through_the_admin_api_applies_at_once(
    admin_relay: RelayProc,
    world: World,
    sim: SimBackend,
    start_agent: Callable[..., AgentProc],
) -> None:
    start_agent(admin_relay.url, world.nodes["rig-1"][1], sim.base_url, name="rig-1")
    key = world.keys["laptop"][1]
    await asyncio.to_thread(wait_for_model, admin_relay.url, key, "sim-model")
    await asyncio.to_thread(wait_for_model, admin_relay.url, key, "fast", present=False)  # cached
    alice = api(admin_relay.url, world.tokens["alice"])
    saved = await asyncio.to_thread(
        alice.put, "/groups/friends/aliases/fast", json={"targets": ["sim-model"]}
    )
    assert saved.status_code == 200
    await asyncio.to_thread(wait_for_model, admin_relay.url, key, "fast", timeout=2)
    async with httpx.AsyncClient(base_url=admin_relay.url, timeout=30) as http:
        answer = await http.post(
            "/v1/chat/completions",
            json={"model": "fast", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 200
    await asyncio.to_thread(alice.delete, "/groups/friends/aliases/fast")
    await asyncio.to_thread(wait_for_model, admin_relay.url, key, "fast", present=False, timeout=2)
