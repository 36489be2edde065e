"""Every read and command is authorized on the relay: a group admin sees and manages only
their groups (other groups' objects look like they do not exist); only the operator sees
all; owners alone touch the owner role."""

from __future__ import annotations

from tests.harness import RelayProc
from tests.relay.admin.support import World, api, error_of


def test_a_group_admin_sees_only_their_groups(admin_relay: RelayProc, world: World) -> None:
    snapshot = api(admin_relay.url, world.tokens["alice"]).get("/snapshot").json()
    assert [g["name"] for g in snapshot["groups"]] == ["friends"]
    assert [n["name"] for n in snapshot["nodes"]] == ["rig-1"]
    assert [k["name"] for k in snapshot["keys"]] == ["laptop"]
    carol = api(admin_relay.url, world.tokens["carol"]).get("/snapshot").json()
    assert [g["name"] for g in carol["groups"]] == ["others"]
    assert [n["name"] for n in carol["nodes"]] == ["rig-2"]
    root = api(admin_relay.url, world.tokens["root"]).get("/snapshot").json()
    assert [g["name"] for g in root["groups"]] == ["friends", "others"]
    assert sorted(n["name"] for n in root["nodes"]) == ["rig-1", "rig-2"]
    # The lists agree with the snapshot.
    alice = api(admin_relay.url, world.tokens["alice"])
    assert [g["name"] for g in alice.get("/groups").json()["groups"]] == ["friends"]
    assert [k["name"] for k in alice.get("/keys").json()["keys"]] == ["laptop"]
    assert [n["name"] for n in alice.get("/nodes").json()["nodes"]] == ["rig-1"]


def test_a_group_admin_cannot_touch_another_group(admin_relay: RelayProc, world: World) -> None:
    alice = api(admin_relay.url, world.tokens["alice"])
    others = world.groups["others"]
    refused = [
        alice.get(f"/groups/{others}/members"),
        alice.patch(f"/groups/{others}", json={"name": "mine"}),
        alice.delete(f"/groups/{others}"),
        alice.post(f"/groups/{others}/keys", json={"name": "sneaky"}),
        alice.post("/groups/others/keys", json={"name": "sneaky"}),  # by name too
        alice.post(f"/groups/{others}/members", json={"user": "alice"}),
        alice.delete(f"/keys/{world.keys['phone'][0]}"),
        alice.delete(f"/nodes/{world.nodes['rig-2'][0]}"),
        alice.post(f"/nodes/{world.nodes['rig-2'][0]}/drain"),
        alice.post(f"/groups/{others}/nodes", json={"name": "rig-9"}),
        alice.put(f"/groups/{others}/aliases/fast", json={"targets": ["m"]}),
        alice.get(f"/usage?group={others}"),
    ]
    for response in refused:
        error = error_of(response, 404)
        assert error["code"] == "not_found"
    assert error_of(alice.post("/groups", json={"name": "new"}), 403)["code"] == "operator_only"
    # Nothing changed for carol.
    carol = api(admin_relay.url, world.tokens["carol"]).get("/snapshot").json()
    assert [k["name"] for k in carol["keys"] if not k["revoked_at"]] == ["phone"]


def test_only_owners_manage_the_owner_role(admin_relay: RelayProc, world: World) -> None:
    carol = api(admin_relay.url, world.tokens["carol"])  # an admin of "others"
    assert carol.post("/groups/others/members", json={"user": "bob"}).status_code == 201
    assert (
        error_of(carol.patch("/groups/others/members/bob", json={"role": "owner"}), 403)["code"]
        == "owner_only"
    )
    assert error_of(carol.delete("/groups/others"), 403)["code"] == "owner_only"
    assert carol.patch("/groups/others/members/bob", json={"role": "admin"}).status_code == 200
    # bob is now an admin of "others": he may use the admin API, for that group only.
    root = api(admin_relay.url, world.tokens["root"])
    assert root.patch("/groups/others/members/carol", json={"role": "owner"}).status_code == 200


def test_a_group_keeps_its_last_owner(admin_relay: RelayProc, world: World) -> None:
    alice = api(admin_relay.url, world.tokens["alice"])
    error = error_of(alice.delete("/groups/friends/members/alice"), 409)
    assert "last owner" in str(error["message"])
    error_of(alice.patch("/groups/friends/members/alice", json={"role": "member"}), 409)


def test_rights_are_read_again_for_every_request(admin_relay: RelayProc, world: World) -> None:
    root = api(admin_relay.url, world.tokens["root"])
    carol = api(admin_relay.url, world.tokens["carol"])
    assert carol.get("/me").status_code == 200
    root.patch("/groups/others/members/carol", json={"role": "member"})
    assert error_of(carol.get("/me"), 403)
