"""The mutual-aid ledger adds up: a circle of three members, each with a rig and a key.

Each member's rig serves a model of its own, so who served whom is known in advance;
the tokens the ``openai`` SDK reports are summed here and compared with what
``llmcluster-relay ledger`` and ``usage`` say.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator

import openai
import pytest

from relay.security import new_api_key, new_node_token
from storage import Role, open_store
from tests.e2e.test_usage import FAST_FLUSH, wait_usage
from tests.harness import (
    AgentProc,
    BackgroundLoop,
    RelayProc,
    SimBackend,
    run_async,
    wait_for_model,
)

NAMES = ("ann", "bob", "cat")


def relay_cli(database_url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "relay", "--database-url", database_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _circle(database_url: str) -> dict[str, tuple[str, str]]:
    """Group ``friends``; per member: (API key, node token)."""
    store = await open_store(database_url)
    try:
        group = await store.create_group("friends")
        made = {}
        for name in NAMES:
            user = await store.create_user(name)
            await store.add_member(group.id, user.id, Role.MEMBER)
            secret, prefix, digest = new_api_key()
            await store.create_api_key(
                prefix=prefix, key_hash=digest, user_id=user.id, group_id=group.id, name=name
            )
            token, token_hash = new_node_token()
            await store.create_node(
                name=f"{name}-rig", group_id=group.id, user_id=user.id, token_hash=token_hash
            )
            made[name] = (secret, token)
    finally:
        await store.close()
    return made


@pytest.fixture
def rigs(background_loop: BackgroundLoop) -> Iterator[dict[str, SimBackend]]:
    sims = {name: SimBackend(background_loop, models=[f"model-{name}"]) for name in NAMES}
    yield sims
    for sim in sims.values():
        sim.stop()


def test_the_ledger_of_three_members_balances(
    database_url: str,
    start_relay: Callable[..., RelayProc],
    start_agent: Callable[..., AgentProc],
    rigs: dict[str, SimBackend],
) -> None:
    members = run_async(lambda: _circle(database_url))
    relay = start_relay(settings=FAST_FLUSH)
    for name, (_, token) in members.items():
        start_agent(relay.url, token, rigs[name].base_url, name=name)
    for name in NAMES:
        wait_for_model(relay.url, members["ann"][0], f"model-{name}")

    served: dict[str, int] = defaultdict(int)
    consumed: dict[str, int] = defaultdict(int)
    plan = [
        ("ann", "bob", 2),
        ("ann", "cat", 1),
        ("bob", "cat", 3),
        ("cat", "ann", 2),
        ("cat", "cat", 1),
    ]
    for consumer, provider, times in plan:
        sdk = openai.OpenAI(base_url=relay.url + "/v1", api_key=members[consumer][0], max_retries=0)
        for i in range(times):
            answer = sdk.chat.completions.create(
                model=f"model-{provider}",
                messages=[{"role": "user", "content": "x " * (i + 1)}],
                max_tokens=4 + i,
            )
            assert answer.usage is not None
            if consumer != provider:
                served[provider] += answer.usage.total_tokens
                consumed[consumer] += answer.usage.total_tokens
    wait_usage(database_url, sum(n for *_, n in plan))

    book = json.loads(relay_cli(database_url, "ledger", "--group", "friends", "--format", "json"))
    rows = {m["user"]: m for m in book["members"]}
    assert set(rows) == set(NAMES)
    for name in NAMES:
        assert rows[name]["served_to_others"] == served[name]
        assert rows[name]["consumed_from_others"] == consumed[name]
        assert rows[name]["balance"] == served[name] - consumed[name]
    assert book["served_total"] == book["consumed_total"] == sum(served.values()) > 0
    assert sum(m["balance"] for m in book["members"]) == 0
    assert rows["cat"]["self_served"] > 0

    table = relay_cli(database_url, "ledger", "--group", "friends")
    assert table.splitlines()[0].split() == [
        "USER",
        "SERVED_TO_OTHERS",
        "CONSUMED_FROM_OTHERS",
        "BALANCE",
        "SELF_SERVED",
    ]
    by_node = relay_cli(
        database_url, "usage", "--group", "friends", "--by", "node", "--format", "csv"
    )
    nodes = {r["node"]: int(r["requests"]) for r in csv.DictReader(io.StringIO(by_node))}
    assert nodes == {"bob-rig": 2, "cat-rig": 5, "ann-rig": 2}
