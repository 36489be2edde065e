"""``init``, ``token create``, groups, users, members and the audit trail."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta

from relay.tokens import ADMIN_AUDIENCE, SIGNING_SECRET_NAME, TokenSigner, new_signing_secret
from storage.base import AuditEntry, Store, User

from ._support import Cli, assert_one_line_error, with_store


def _verify(url: str, token: str) -> str:
    """The subject of an admin token, checked with the relay's signing key."""

    async def secret(store: Store) -> bytes:
        return await store.get_or_create_secret(SIGNING_SECRET_NAME, new_signing_secret())

    return TokenSigner(with_store(url, secret)).verify(token, ADMIN_AUDIENCE).subject


def test_init_prints_the_operator_token_once(cli: Cli, backend_url: str) -> None:
    run = cli("init")
    assert run.code == 0, run.err
    assert "shown once" in run.out and "store it now" in run.out
    token_lines = [line for line in run.out.splitlines() if line.startswith("eyJ")]
    assert len(token_lines) == 1
    token = token_lines[0]
    assert run.out.count(token) == 1
    users = with_store(backend_url, lambda s: s.list_users())
    assert [(u.name, u.is_operator) for u in users] == [("operator", True)]
    assert _verify(backend_url, token) == users[0].id


def test_init_json_carries_the_documented_fields(cli: Cli, backend_url: str) -> None:
    data = cli("init", "--user", "root", "--ttl-days", "7", "--json").json()
    assert set(data) == {"user", "user_id", "token", "expires_at"}
    assert data["user"] == "root"
    assert _verify(backend_url, data["token"]) == data["user_id"]
    expires = datetime.fromisoformat(data["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)


def test_init_twice_is_refused(cli: Cli) -> None:
    assert cli("init").code == 0
    assert_one_line_error(cli("init"), "already initialised; use 'token create --user NAME'")


def test_token_create_for_operator_and_group_admins_only(cli: Cli, backend_url: str) -> None:
    cli("init")
    cli("group", "create", "team")
    for name, role in (("ann", "admin"), ("bob", "member")):
        cli("user", "add", name)
        cli("member", "add", "--group", "team", "--user", name, "--role", role)
    op = cli("token", "create", "--user", "operator", "--json").json()
    assert set(op) == {"user", "user_id", "token", "expires_at"}
    assert _verify(backend_url, op["token"]) == op["user_id"]
    ann = cli("--json", "token", "create", "--user", "ann", "--ttl-days", "1").json()
    assert ann["user"] == "ann" and _verify(backend_url, ann["token"]) == ann["user_id"]
    human = cli("token", "create", "--user", "ann")
    assert human.code == 0 and "store it now" in human.out
    assert_one_line_error(cli("token", "create", "--user", "bob"), "'bob'", "admin")
    assert_one_line_error(cli("token", "create", "--user", "zed"), "no user named 'zed'")


def test_groups_users_and_members(cli: Cli) -> None:
    cli("init")
    group = cli("group", "create", "team", "--json").json()
    assert group["name"] == "team" and group["id"]
    cli("user", "add", "alice")
    root = cli("user", "add", "root", "--operator", "--json").json()
    assert root["is_operator"] is True
    member = cli("member", "add", "--group", "team", "--user", "alice", "--json").json()
    assert (member["group"], member["user"], member["role"]) == ("team", "alice", "member")
    cli("member", "add", "--group", "team", "--user", "root", "--role", "owner")

    groups = cli("group", "list", "--json").json()["groups"]
    assert [(g["name"], g["members"]) for g in groups] == [("team", 2)]
    users = cli("user", "list", "--json").json()["users"]
    assert [(u["name"], u["is_operator"]) for u in users] == [
        ("alice", False),
        ("operator", True),
        ("root", True),
    ]
    members = cli("member", "list", "--group", "team", "--json").json()
    assert [(m["user"], m["role"]) for m in members["members"]] == [
        ("alice", "member"),
        ("root", "owner"),
    ]

    table = cli("member", "list", "--group", "team").out.splitlines()
    assert table[0].split() == ["USER", "ROLE", "SINCE"]
    assert table[1].split()[:2] == ["alice", "member"]
    assert table[0].index("ROLE") == table[1].index("member")  # aligned columns
    assert cli("user", "list").out.splitlines()[0].split() == ["NAME", "ID", "OPERATOR", "CREATED"]

    again = cli("member", "add", "--group", "team", "--user", "alice")
    assert_one_line_error(again, "already a member")


def test_empty_lists(cli: Cli) -> None:
    cli("init")
    assert cli("group", "list").out.strip() == "No groups."
    assert cli("group", "list", "--json").json() == {"groups": []}
    assert cli("key", "list", "--json").json() == {"keys": []}
    assert cli("node", "list", "--json").json() == {"nodes": []}


def test_json_flag_before_and_after_the_subcommand(cli: Cli) -> None:
    cli("init")
    cli("group", "create", "team")
    before = cli("--json", "group", "list").json()
    after = cli("group", "list", "--json").json()
    assert before == after
    assert cli("group", "--json", "list").json() == before


def _audit(url: str) -> list[AuditEntry]:
    return with_store(url, lambda s: s.list_audit(limit=1000))


def test_every_mutation_is_audited(cli: Cli, backend_url: str) -> None:
    actor = f"cli:{getpass.getuser()}"
    init = cli("init", "--json").json()
    group = cli("group", "create", "team", "--json").json()
    alice = cli("user", "add", "alice", "--json").json()
    cli("member", "add", "--group", "team", "--user", "alice", "--role", "owner")
    token = cli("token", "create", "--user", "alice", "--json").json()
    key = cli("key", "create", "--user", "alice", "--group", "team", "--json").json()
    cli("key", "revoke", key["id"])
    node = cli("node", "add", "--group", "team", "--name", "rig", "--json").json()
    cli("node", "revoke", node["id"])
    cli("group", "list")  # reads are not audited

    entries = list(reversed(_audit(backend_url)))
    assert [(e.action, e.target) for e in entries] == [
        ("relay.init", init["user_id"]),
        ("group.create", group["id"]),
        ("user.create", alice["id"]),
        ("member.add", f"{group['id']}/{alice['id']}"),
        ("token.create", alice["id"]),
        ("key.create", key["id"]),
        ("key.revoke", key["id"]),
        ("node.create", node["id"]),
        ("node.revoke", node["id"]),
    ]
    assert {e.actor for e in entries} == {actor}
    text = repr(entries)
    for secret in (init["token"], token["token"], key["key"], node["token"]):
        assert secret not in text


def test_failed_commands_are_not_audited(cli: Cli, backend_url: str) -> None:
    cli("init")
    cli("group", "create", "team")
    cli("group", "create", "team")
    cli("member", "add", "--group", "nope", "--user", "x")
    cli("key", "create", "--group", "team", "--user", "operator")
    assert [e.action for e in _audit(backend_url)] == ["group.create", "relay.init"]


def test_operator_flag_and_user_records(cli: Cli, backend_url: str) -> None:
    with_store(backend_url, lambda s: s.ping())  # an empty, migrated database
    cli("user", "add", "root", "--operator")
    user: User | None = with_store(backend_url, lambda s: s.get_user_by_name("root"))
    assert user is not None and user.is_operator
    # an operator created by hand counts: init refuses to create a second one
    assert_one_line_error(cli("init"), "already initialised")
