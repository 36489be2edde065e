"""``key`` and ``node`` commands: secrets shown once, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from storage.base import ApiKey, Node

from ._support import Cli, assert_one_line_error, with_store


def _team(cli: Cli) -> None:
    """An initialised relay with group ``team``: alice (owner) and bob (member)."""
    assert cli("init").code == 0
    cli("group", "create", "team")
    cli("group", "create", "other")
    cli("user", "add", "alice")
    cli("user", "add", "bob")
    cli("member", "add", "--group", "team", "--user", "alice", "--role", "owner")
    cli("member", "add", "--group", "team", "--user", "bob")


def _key(url: str, key_id: str) -> ApiKey:
    key = with_store(url, lambda s: s.get_api_key(key_id))
    assert key is not None
    return key


def _node(url: str, node_id: str) -> Node:
    node = with_store(url, lambda s: s.get_node(node_id))
    assert node is not None
    return node


def test_key_create_stores_only_the_hash(cli: Cli, backend_url: str) -> None:
    _team(cli)
    data = cli("key", "create", "--user", "bob", "--group", "team", "--name", "laptop", "--json")
    key = data.json()
    assert set(key) == {"id", "name", "prefix", "group", "user", "key"}
    assert (key["name"], key["group"], key["user"]) == ("laptop", "team", "bob")
    secret = key["key"]
    assert secret.startswith(key["prefix"]) and len(secret) > len(key["prefix"]) + 20
    stored = _key(backend_url, key["id"])
    assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert stored.prefix == key["prefix"] and not stored.revoked


def test_key_secret_is_not_in_the_database_file(sqlite_cli: Cli, tmp_path: Path) -> None:
    _team(sqlite_cli)
    run = sqlite_cli("key", "create", "--user", "bob", "--group", "team")
    assert run.code == 0, run.err
    assert "shown once" in run.out and "store it now" in run.out
    secret = next(line for line in run.out.splitlines() if line.startswith("llmc-"))
    assert run.out.count(secret) == 1
    node = sqlite_cli("node", "add", "--group", "team", "--name", "rig", "--json").json()
    files = sorted(tmp_path.glob("r.db*"))
    assert files
    blob = b"".join(f.read_bytes() for f in files)
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in blob
    assert secret.encode() not in blob
    assert node["token"].encode() not in blob


def test_key_list_never_shows_the_hash(cli: Cli, backend_url: str) -> None:
    _team(cli)
    bob = cli("key", "create", "--user", "bob", "--group", "team", "--json").json()
    cli("key", "create", "--user", "alice", "--group", "team", "--name", "ci")
    digest = _key(backend_url, bob["id"]).key_hash
    human = cli("key", "list")
    as_json = cli("key", "list", "--json")
    for run in (human, as_json):
        assert run.code == 0
        assert digest not in run.out and bob["key"] not in run.out
    keys = as_json.json()["keys"]
    assert [(k["name"], k["user"], k["group"]) for k in keys] == [
        ("default", "bob", "team"),
        ("ci", "alice", "team"),
    ]
    assert set(keys[0]) == {
        "id",
        "name",
        "prefix",
        "group",
        "user",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked",
    }
    header = human.out.splitlines()[0].split("  ")
    assert [h.strip() for h in header if h.strip()] == [
        "ID",
        "NAME",
        "PREFIX",
        "GROUP",
        "USER",
        "CREATED",
        "LAST USED",
        "REVOKED",
    ]
    only_alice = cli("key", "list", "--user", "alice", "--json").json()["keys"]
    assert [k["name"] for k in only_alice] == ["ci"]
    assert cli("key", "list", "--group", "other", "--json").json() == {"keys": []}
    assert_one_line_error(cli("key", "list", "--group", "nope"), "no group named 'nope'")


def test_key_revoke(cli: Cli, backend_url: str) -> None:
    _team(cli)
    key = cli("key", "create", "--user", "bob", "--group", "team", "--json").json()
    revoked = cli("key", "revoke", key["id"], "--json").json()
    assert revoked["id"] == key["id"] and revoked["revoked"] is True
    assert _key(backend_url, key["id"]).revoked
    listed = cli("key", "list", "--json").json()["keys"]
    assert listed[0]["revoked"] is True and listed[0]["revoked_at"]
    assert_one_line_error(cli("key", "revoke", key["id"]), "already revoked")
    assert_one_line_error(cli("key", "revoke", "f" * 32), "no key with id")


def test_key_create_requires_membership(cli: Cli) -> None:
    _team(cli)
    run = cli("key", "create", "--user", "bob", "--group", "other")
    assert_one_line_error(run, "'bob' is not a member of group 'other'")
    assert_one_line_error(cli("key", "create", "--user", "zed", "--group", "team"), "'zed'")
    assert cli("key", "list", "--json").json() == {"keys": []}


def test_node_add_list_revoke(cli: Cli, backend_url: str) -> None:
    _team(cli)
    node = cli("node", "add", "--group", "team", "--name", "rig-1", "--json").json()
    assert set(node) == {"id", "name", "group", "user", "token"}
    assert (node["name"], node["group"], node["user"]) == ("rig-1", "team", "alice")
    stored = _node(backend_url, node["id"])
    assert stored.token_hash == hashlib.sha256(node["token"].encode()).hexdigest()

    human = cli("node", "add", "--group", "team", "--name", "rig-2", "--user", "bob")
    assert human.code == 0 and "store it now" in human.out
    listed = cli("node", "list", "--group", "team", "--json").json()["nodes"]
    assert [(n["name"], n["user"], n["revoked"]) for n in listed] == [
        ("rig-1", "alice", False),
        ("rig-2", "bob", False),
    ]
    table = cli("node", "list")
    assert stored.token_hash not in table.out and node["token"] not in table.out
    assert "rig-2" in table.out

    assert cli("node", "revoke", node["id"]).code == 0
    assert _node(backend_url, node["id"]).revoked
    assert_one_line_error(cli("node", "revoke", node["id"]), "already revoked")
    assert_one_line_error(cli("node", "revoke", "nope"), "no node with id 'nope'")


def test_node_owner_defaults(cli: Cli) -> None:
    _team(cli)
    # no owner in 'other': the operator owns the node
    node = cli("node", "add", "--group", "other", "--name", "rig", "--json").json()
    assert node["user"] == "operator"
    assert_one_line_error(
        cli("node", "add", "--group", "other", "--name", "rig2", "--user", "bob"),
        "'bob' is not a member of group 'other'",
    )
    dup = cli("node", "add", "--group", "other", "--name", "rig")
    assert_one_line_error(dup, "already has a node named 'rig'")


def test_node_add_without_owner_or_operator(cli: Cli, backend_url: str) -> None:
    with_store(backend_url, lambda s: s.create_group("lonely"))
    run = cli("node", "add", "--group", "lonely", "--name", "rig")
    assert_one_line_error(run, "no owner", "--user")
