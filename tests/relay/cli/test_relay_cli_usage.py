"""``usage`` and ``ledger``: one group's numbers over a window, as table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from storage import UsageRecord
from storage.base import Store

from ._support import Cli, assert_one_line_error, with_store


def _seed(cli: Cli, url: str) -> None:
    """Group ``team``: ann and bob, each with a key and a rig; some usage between them."""
    cli("init")
    cli("group", "create", "team")
    ids: dict[str, dict[str, str]] = {}
    for name in ("ann", "bob"):
        cli("user", "add", name)
        cli("member", "add", "--group", "team", "--user", name)
        key = cli(
            "key", "create", "--user", name, "--group", "team", "--name", f"{name}-key", "--json"
        )
        node = cli(
            "node", "add", "--group", "team", "--name", f"{name}-rig", "--user", name, "--json"
        )
        ids[name] = {"key": key.json()["id"], "node": node.json()["id"]}
    now = datetime.now(UTC)

    async def record(store: Store) -> None:
        group = await store.get_group_by_name("team")
        assert group is not None
        users = {u.name: u.id for u in await store.list_users()}

        def use(rid: str, who: str, rig: str, p: int, c: int, ago: timedelta) -> UsageRecord:
            return UsageRecord(
                rid, now - ago, ids[who]["key"], users[who], group.id, ids[rig]["node"],
                "llama", p, c, 5.0, 50.0, 200,
            )  # fmt: skip

        await store.record_usage(
            [
                use("1", "ann", "bob", 10, 20, timedelta(hours=1)),
                use("2", "ann", "bob", 5, 5, timedelta(hours=2)),
                use("3", "bob", "ann", 1, 2, timedelta(hours=3)),
                use("4", "bob", "ann", 100, 100, timedelta(days=3)),  # outside 24h
            ]
        )

    with_store(url, record)


def test_usage_as_table_csv_and_json(cli: Cli, backend_url: str) -> None:
    _seed(cli, backend_url)
    table = cli("usage", "--group", "team").out.splitlines()
    assert table[0].split() == [
        "USER",
        "REQUESTS",
        "PROMPT_TOKENS",
        "COMPLETION_TOKENS",
        "TOTAL_TOKENS",
    ]
    assert table[1].split() == ["ann", "2", "15", "25", "40"]
    assert table[2].split() == ["bob", "1", "1", "2", "3"]
    rows = list(csv.DictReader(io.StringIO(cli("usage", "--group", "team", "--by", "key",
                                               "--format", "csv").out)))  # fmt: skip
    assert [(r["key"], r["total_tokens"]) for r in rows] == [("ann-key", "40"), ("bob-key", "3")]
    week = cli("usage", "--group", "team", "--since", "7d", "--by", "model", "--format", "json")
    data = json.loads(week.out)
    again = cli("--json", "usage", "--group", "team", "--since", "7d", "--by", "model").json()
    assert {**data, "since": None} == {**again, "since": None}  # "7d" ago moved on a little
    assert data["by"] == "model" and data["since"] is not None and data["until"] is None
    assert data["rows"] == [
        {
            "id": "llama",
            "name": "llama",
            "requests": 4,
            "prompt_tokens": 116,
            "completion_tokens": 127,
            "total_tokens": 243,
        }
    ]
    empty = cli("usage", "--group", "team", "--since", "2020-01-01", "--until", "2020-02-01")
    assert empty.out.strip() == "No usage in group 'team' then."


def test_ledger(cli: Cli, backend_url: str) -> None:
    _seed(cli, backend_url)
    data = cli("ledger", "--group", "team", "--json").json()
    rows = {m["user"]: m for m in data["members"]}
    assert (rows["ann"]["served_to_others"], rows["ann"]["consumed_from_others"]) == (203, 40)
    assert (rows["bob"]["served_to_others"], rows["bob"]["consumed_from_others"]) == (40, 203)
    assert rows["ann"]["balance"] == 163 and rows["bob"]["balance"] == -163
    assert data["served_total"] == data["consumed_total"] == 243
    day = cli("ledger", "--group", "team", "--since", "24h").out.splitlines()
    assert day[1].split() == ["bob", "40", "3", "+37", "0"]
    assert day[2].split() == ["ann", "3", "40", "-37", "0"]
    assert day[-1].startswith("Served 43 tokens to others, consumed 43 from others")
    as_csv = cli("ledger", "--group", "team", "--format", "csv").out.splitlines()
    assert as_csv[0] == "user,served_to_others,consumed_from_others,balance,self_served"


def test_usage_errors(cli: Cli) -> None:
    cli("init")
    assert_one_line_error(cli("usage", "--group", "nope"), "no group named 'nope'")
    cli("group", "create", "team")
    assert_one_line_error(
        cli("usage", "--group", "team", "--since", "yesterday"), "expected a duration like 24h"
    )
    assert_one_line_error(cli("ledger", "--group", "team", "--until", "soon"), "ISO-8601")
