"""``limits`` and ``alias`` commands: stored, listed, cleared, audited."""

from __future__ import annotations

import pytest

from storage import LimitScope
from storage.base import AuditEntry

from ._support import Cli, assert_one_line_error, with_store


def _team(cli: Cli) -> tuple[str, str]:
    """Group ``team`` with alice (owner) and bob; returns (team id, bob's key id)."""
    assert cli("init").code == 0
    team = cli("group", "create", "team", "--json").json()
    cli("group", "create", "other")
    for name in ("alice", "bob"):
        cli("user", "add", name)
        cli("member", "add", "--group", "team", "--user", name)
    key = cli("key", "create", "--user", "bob", "--group", "team", "--name", "laptop", "--json")
    return str(team["id"]), str(key.json()["id"])


def _audit(url: str) -> list[AuditEntry]:
    return with_store(url, lambda s: s.list_audit())


def test_limits_set_merges_values_and_list_shows_every_tier(cli: Cli, backend_url: str) -> None:
    team, key = _team(cli)
    data = cli("limits", "set", "--group", "team", "--rpm", "600", "--tpm", "100000", "--json")
    assert data.json()["scope"] == "group" and data.json()["rpm"] == 600
    cli("limits", "set", "--group", "team", "--default", "--rpm", "60")
    cli("limits", "set", "--group", "team", "--user", "alice", "--concurrent", "2")
    run = cli("limits", "set", "--group", "team", "--key", key, "--rpm", "10")
    assert run.code == 0 and "key 'laptop'" in run.out
    merged = cli("limits", "set", "--group", "team", "--key", key, "--tpm", "500", "--json").json()
    assert (merged["rpm"], merged["tpm"], merged["max_concurrent"]) == (10, 500, None)
    cleared = cli("limits", "set", "--group", "team", "--key", key, "--rpm", "none", "--json")
    assert (cleared.json()["rpm"], cleared.json()["tpm"]) == (None, 500)
    listed = cli("limits", "list", "--group", "team", "--json").json()
    assert [(x["scope"], x["subject"]) for x in listed["limits"]] == [
        ("group", "(group)"),
        ("default", "(default)"),
        ("user", "alice"),
        ("key", f"laptop ({key})"),
    ]
    table = cli("limits", "list", "--group", "team").out.splitlines()
    assert table[0].split() == ["SCOPE", "SUBJECT", "RPM", "TPM", "CONCURRENT", "UPDATED"]
    assert len(table) == 5
    rows = with_store(backend_url, lambda s: s.list_rate_limits(team))
    assert [(r.scope, r.rpm, r.tpm) for r in rows][-1] == (LimitScope.KEY, None, 500)
    actions = [e.action for e in _audit(backend_url)[:6]]
    assert actions == ["limits.set"] * 6
    assert _audit(backend_url)[0].detail == "rpm=- tpm=500 max_concurrent=-"


def test_limits_clear_and_errors(cli: Cli) -> None:
    _, key = _team(cli)
    cli("limits", "set", "--group", "team", "--user", "bob", "--rpm", "5")
    assert cli("limits", "clear", "--group", "team", "--user", "bob", "--json").json()["cleared"]
    assert_one_line_error(
        cli("limits", "clear", "--group", "team", "--user", "bob"), "no limits set for user 'bob'"
    )
    assert "nothing is limited" in cli("limits", "list", "--group", "team").out
    assert_one_line_error(cli("limits", "set", "--group", "team"), "give at least one of")
    assert_one_line_error(
        cli("limits", "set", "--group", "other", "--key", key, "--rpm", "1"),
        "no API key with id",
    )
    assert_one_line_error(
        cli("limits", "set", "--group", "other", "--user", "bob", "--rpm", "1"),
        "no member named 'bob' in group 'other'",
    )
    assert_one_line_error(cli("limits", "list", "--group", "nope"), "no group named 'nope'")
    for argv in (
        ("--rpm", "0"),  # not a positive integer
        ("--default", "--user", "bob", "--rpm", "1"),  # two subjects
    ):
        with pytest.raises(SystemExit) as exc:  # argparse usage errors exit 2
            cli("limits", "set", "--group", "team", *argv)
        assert exc.value.code == 2


def test_alias_set_list_remove(cli: Cli, backend_url: str) -> None:
    team, _ = _team(cli)
    made = cli("alias", "set", "--group", "team", "fast", "llama3:8b", "qwen2.5:7b", "--json")
    assert made.json() == {"group": "team", "alias": "fast", "targets": ["llama3:8b", "qwen2.5:7b"]}
    cli("alias", "set", "--group", "team", "big", "llama3:70b")
    cli("alias", "set", "--group", "team", "fast", "phi3")  # replaces the targets
    listed = cli("alias", "list", "--group", "team", "--json").json()["aliases"]
    assert [(a["alias"], a["targets"]) for a in listed] == [
        ("big", ["llama3:70b"]),
        ("fast", ["phi3"]),
    ]
    assert "ALIAS" in cli("alias", "list", "--group", "team").out
    assert cli("alias", "remove", "--group", "team", "big", "--json").json()["removed"] is True
    assert_one_line_error(cli("alias", "remove", "--group", "team", "big"), "no alias 'big'")
    assert [a.alias for a in with_store(backend_url, lambda s: s.list_aliases(team))] == ["fast"]
    assert [e.action for e in _audit(backend_url)[:4]] == [
        "alias.remove",
        "alias.set",
        "alias.set",
        "alias.set",
    ]
    assert cli("alias", "list", "--group", "other").out.strip() == "No aliases in group 'other'."
