"""Each admin command does what it says, takes effect at once, and leaves an audit record
naming the admin (``user:<name>``) and never a secret."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.harness import RelayProc, run_async
from tests.relay.admin.support import World, api, audit_actions, error_of


def audit(world: World) -> list[tuple[str, str, str, str]]:
    return run_async(lambda: audit_actions(world.database_url))


def test_groups_create_rename_delete(admin_relay: RelayProc, world: World) -> None:
    root = api(admin_relay.url, world.tokens["root"])
    created = root.post("/groups", json={"name": "lab"})
    assert created.status_code == 201
    group = created.json()["group"]
    assert group["name"] == "lab" and group["members"] == []
    assert error_of(root.post("/groups", json={"name": "lab"}), 409)["param"] == "name"
    assert error_of(root.post("/groups", json={"name": "no spaces"}), 400)["param"] == "name"
    renamed = root.patch(f"/groups/{group['id']}", json={"name": "lab2"}).json()["group"]
    assert renamed["name"] == "lab2"
    assert root.delete("/groups/lab2").json() == {"deleted": True, "group_id": group["id"]}
    assert error_of(root.delete("/groups/lab2"), 404)
    actions = [(a, act, t) for a, act, t, _ in audit(world)[:3]]
    assert actions == [
        ("user:root", "group.delete", group["id"]),
        ("user:root", "group.rename", group["id"]),
        ("user:root", "group.create", group["id"]),
    ]


def test_deleting_a_group_stops_its_keys_at_once(admin_relay: RelayProc, world: World) -> None:
    secret = world.keys["phone"][1]
    models = httpx.get(
        admin_relay.url + "/v1/models", headers={"Authorization": f"Bearer {secret}"}
    )
    assert models.status_code == 200  # cached as valid now
    assert api(admin_relay.url, world.tokens["root"]).delete("/groups/others").status_code == 200
    again = httpx.get(admin_relay.url + "/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert again.status_code == 401


def test_members_add_role_remove(admin_relay: RelayProc, world: World) -> None:
    alice = api(admin_relay.url, world.tokens["alice"])
    error = error_of(alice.post("/groups/friends/members", json={"user": "dave"}), 404)
    assert error["param"] == "user"
    added = alice.post(
        "/groups/friends/members", json={"user": "dave", "role": "admin", "create_user": True}
    )
    assert added.status_code == 201
    assert added.json()["member"]["role"] == "admin"
    error_of(alice.post("/groups/friends/members", json={"user": "dave"}), 409)
    error_of(alice.post("/groups/friends/members", json={"user": "carol", "role": "boss"}), 400)
    changed = alice.patch("/groups/friends/members/dave", json={"role": "member"})
    assert changed.json()["member"]["role"] == "member"
    members = alice.get("/groups/friends/members").json()["members"]
    assert [(m["name"], m["role"]) for m in members] == [
        ("alice", "owner"),
        ("bob", "member"),
        ("dave", "member"),
    ]
    assert alice.delete("/groups/friends/members/dave").json()["removed"] is True
    actions = [(act, d) for a, act, _, d in audit(world)[:5] if a == "user:alice"]
    assert actions == [
        ("member.remove", "user=dave"),
        ("member.role", "user=dave from=admin to=member"),
        ("member.add", "user=dave role=admin"),
        ("user.create", "name=dave operator=False"),
    ]


def test_key_create_shows_the_secret_once_and_revoke_is_immediate(
    admin_relay: RelayProc, world: World
) -> None:
    alice = api(admin_relay.url, world.tokens["alice"])
    created = alice.post("/groups/friends/keys", json={"name": "ci", "user": "bob"})
    assert created.status_code == 201
    secret = created.json()["secret"]
    key = created.json()["key"]
    assert secret.startswith("llmc-") and secret.startswith(key["prefix"])
    assert key["user"] == "bob" and key["group"] == "friends"
    listed = alice.get("/keys").json()["keys"]
    assert {k["name"] for k in listed} == {"laptop", "ci"}
    assert secret not in str(listed)  # listed by name and prefix only
    client = openai.OpenAI(base_url=admin_relay.url + "/v1", api_key=secret, max_retries=0)
    assert client.models.list().data == []  # authenticated (no node is online)
    assert alice.delete(f"/keys/{key['id']}").json() == {"key_id": key["id"], "revoked": True}
    with pytest.raises(openai.AuthenticationError):
        client.models.list()  # at once, not after the key cache expires
    assert error_of(alice.delete(f"/keys/{key['id']}"), 409)
    # Not a member: refused with the reason.
    assert error_of(alice.post("/groups/friends/keys", json={"name": "x", "user": "carol"}), 400)
    records = audit(world)
    assert [r[1] for r in records[:2]] == ["key.revoke", "key.create"]
    assert all(secret not in r[3] for r in records)
    assert records[1][0] == "user:alice" and key["prefix"] in records[1][3]


def test_node_tokens_create_and_revoke(admin_relay: RelayProc, world: World) -> None:
    alice = api(admin_relay.url, world.tokens["alice"])
    created = alice.post("/groups/friends/nodes", json={"name": "rig-9"})
    assert created.status_code == 201
    token = created.json()["token"]
    node = created.json()["node"]
    assert token.startswith("llmcn-") and node["name"] == "rig-9"
    error_of(alice.post("/groups/friends/nodes", json={"name": "rig-9"}), 409)
    exchange = httpx.post(
        admin_relay.url + "/tunnel/token", headers={"Authorization": f"Bearer {token}"}
    )
    assert exchange.status_code == 200
    assert alice.delete(f"/nodes/{node['id']}").json()["revoked"] is True
    exchange = httpx.post(
        admin_relay.url + "/tunnel/token", headers={"Authorization": f"Bearer {token}"}
    )
    assert exchange.status_code == 401
    records = audit(world)
    assert [r[1] for r in records[:2]] == ["node.revoke", "node.create"]
    assert all(token not in r[3] for r in records)


def test_drain_and_resume_an_offline_node(admin_relay: RelayProc, world: World) -> None:
    alice = api(admin_relay.url, world.tokens["alice"])
    node_id = world.nodes["rig-1"][0]
    assert alice.post(f"/nodes/{node_id}/drain").json() == {
        "node_id": node_id,
        "drained": True,
        "status": "offline",
    }
    node = alice.get("/snapshot").json()["nodes"][0]
    assert node["drained"] is True
    assert alice.post(f"/nodes/{node_id}/resume").json()["drained"] is False
    assert [r[1] for r in audit(world)[:2]] == ["node.resume", "node.drain"]


def test_model_aliases(admin_relay: RelayProc, world: World) -> None:
    alice = api(admin_relay.url, world.tokens["alice"])
    saved = alice.put("/groups/friends/aliases/fast", json={"targets": ["llama3:8b", "qwen:7b"]})
    assert saved.status_code == 200
    assert saved.json()["alias"]["targets"] == ["llama3:8b", "qwen:7b"]
    listed = alice.get("/groups/friends/aliases").json()["aliases"]
    assert [(a["alias"], a["targets"]) for a in listed] == [("fast", ["llama3:8b", "qwen:7b"])]
    assert alice.get("/snapshot").json()["aliases"] == [
        {"group_id": world.groups["friends"], "alias": "fast", "targets": ["llama3:8b", "qwen:7b"]}
    ]
    error_of(alice.put("/groups/friends/aliases/slow", json={"targets": []}), 400)
    assert alice.delete("/groups/friends/aliases/fast").json()["deleted"] is True
    error_of(alice.delete("/groups/friends/aliases/fast"), 404)
    assert [r[1] for r in audit(world)[:2]] == ["alias.delete", "alias.set"]


def test_usage_and_requests_read_without_auditing(admin_relay: RelayProc, world: World) -> None:
    alice = api(admin_relay.url, world.tokens["alice"])
    before = len(audit(world))
    usage = alice.get("/usage?window=1h&by=model").json()
    assert usage["window"] == "1h" and usage["by"] == "model" and usage["rows"] == []
    assert len(usage["series"]["tokens"]) == 12 and usage["series"]["bucket_s"] == 300
    error = error_of(alice.get("/usage?window=2y"), 400)
    assert error["param"] == "window"
    assert alice.get("/requests").json() == {"requests": []}
    assert len(audit(world)) == before


def test_bad_commands_are_explained(admin_relay: RelayProc, world: World) -> None:
    root = api(admin_relay.url, world.tokens["root"])
    error = error_of(root.post("/commands/launch.missiles", json={}), 400)
    assert error["code"] == "unknown_command" and "key.create" in str(error["message"])
    error = error_of(root.post("/commands/group.create", json={"nme": "x"}), 400)
    assert error["param"] == "name"
    error = error_of(root.post("/groups", content=b"{not json"), 400)
    assert "JSON" in str(error["message"])
    assert root.post("/commands/group.create", json={"name": "via-command"}).status_code == 200
