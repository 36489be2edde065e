"""The scheduler as a pure function: examples, and properties over arbitrary fleets."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from relay.scheduler import NodeSnapshot, Outcome, Request, Weights, schedule


def node(
    name: str,
    *,
    group: str = "g",
    models: dict[str, bool] | None = None,
    in_flight: int = 0,
    cap: int = 4,
    **kw: object,
) -> NodeSnapshot:
    return NodeSnapshot(
        node_id=name,
        name=name,
        group_id=group,
        models=models if models is not None else {"m": False},
        in_flight=in_flight,
        max_concurrency=cap,
        **kw,
    )  # type: ignore[arg-type]


def test_hot_node_wins_over_an_idle_cold_one() -> None:
    decision = schedule(
        [node("cold"), node("hot", models={"m": True}, in_flight=3)], Request("g", "m")
    )
    assert decision.outcome is Outcome.CHOSEN and decision.node_name == "hot"
    assert "model loaded" in decision.reason


def test_outcomes_when_nothing_fits() -> None:
    assert schedule([], Request("g", "m")).outcome is Outcome.NO_NODES
    assert schedule([node("a", group="other")], Request("g", "m")).outcome is Outcome.NO_NODES
    assert schedule([node("a", draining=True)], Request("g", "m")).outcome is Outcome.NO_NODES
    assert schedule([node("a")], Request("g", "x")).outcome is Outcome.UNKNOWN_MODEL
    assert schedule([node("a", in_flight=4)], Request("g", "m")).outcome is Outcome.SATURATED
    assert schedule([node("a")], Request("g", "m", exclude={"a"})).outcome is Outcome.EXHAUSTED


def test_alias_resolves_to_the_nodes_own_name() -> None:
    fleet = [
        node("ollama", models={"llama3.1:8b": True}),
        node("lms", models={"meta-llama-3.1-8b-instruct": False}),
    ]
    request = Request(
        "g", "llama3.1-8b", alias_targets=("llama3.1:8b", "meta-llama-3.1-8b-instruct")
    )
    decision = schedule(fleet, request)
    assert (decision.node_name, decision.model) == ("ollama", "llama3.1:8b")


def test_cold_model_goes_to_the_most_free_vram() -> None:
    fleet = [
        node("small", vram_free_mb=4000, vram_total_mb=8000),
        node("big", vram_free_mb=20000, vram_total_mb=24000, in_flight=2),
    ]
    assert schedule(fleet, Request("g", "m")).node_name == "big"


def test_failing_node_does_not_attract_traffic_by_looking_idle() -> None:
    fleet = [
        node("flaky", models={"m": True}, failure_rate=0.9),
        node("steady", models={"m": True}, in_flight=3),
    ]
    assert schedule(fleet, Request("g", "m")).node_name == "steady"


def test_faster_node_preferred_and_affinity_kept_unless_saturated() -> None:
    fleet = [node("slow", ttft_ms=900, tokens_per_s=10), node("fast", ttft_ms=50, tokens_per_s=60)]
    assert schedule(fleet, Request("g", "m")).node_name == "fast"
    assert schedule(fleet, Request("g", "m", affinity_node="slow")).node_name == "slow"
    full = [node("slow", in_flight=4), node("fast")]
    assert schedule(full, Request("g", "m", affinity_node="slow")).node_name == "fast"


def test_decision_explains_itself() -> None:
    decision = schedule([node("a", models={"m": True}), node("b")], Request("g", "m"))
    assert decision.reason.startswith("a: model loaded")
    assert [name for name, _ in decision.scores] == ["a", "b"]


fleets = st.lists(
    st.builds(
        NodeSnapshot,
        node_id=st.uuids().map(str),
        name=st.text("abc", min_size=1, max_size=3),
        group_id=st.sampled_from(["g", "h"]),
        models=st.dictionaries(st.sampled_from(["m", "n"]), st.booleans(), max_size=2),
        in_flight=st.integers(0, 8),
        max_concurrency=st.integers(1, 8),
        online=st.booleans(),
        draining=st.booleans(),
        cooling_down=st.booleans(),
        ttft_ms=st.none() | st.floats(0, 5000),
        tokens_per_s=st.none() | st.floats(0, 500),
        failure_rate=st.floats(0, 1),
        gpu_utilization_pct=st.none() | st.floats(0, 100),
        vram_free_mb=st.none() | st.floats(0, 80000),
        vram_total_mb=st.none() | st.floats(1, 80000),
    ),
    max_size=8,
)


@settings(max_examples=300)
@given(fleet=fleets, affinity=st.booleans())
def test_never_outside_the_group_never_over_capacity(
    fleet: list[NodeSnapshot], affinity: bool
) -> None:
    request = Request("g", "m", affinity_node=fleet[0].node_id if fleet and affinity else None)
    decision = schedule(fleet, request)
    if decision.outcome is Outcome.CHOSEN:
        chosen = next(n for n in fleet if n.node_id == decision.node_id)
        assert chosen.group_id == "g"
        assert chosen.in_flight < chosen.max_concurrency
        assert chosen.online and not chosen.draining and not chosen.cooling_down
        assert "m" in chosen.models
    else:
        assert not any(
            n.group_id == "g"
            and n.online
            and not n.draining
            and not n.cooling_down
            and "m" in n.models
            and n.has_room
            for n in fleet
        )


@settings(max_examples=300)
@given(fleet=fleets)
def test_a_healthy_hot_node_always_beats_a_cold_one(fleet: list[NodeSnapshot]) -> None:
    healthy = [
        NodeSnapshot(
            **{
                **{f: getattr(n, f) for f in n.__slots__},  # type: ignore[arg-type]
                "failure_rate": 0.0,
            }
        )
        for n in fleet
    ]
    decision = schedule(healthy, Request("g", "m"))
    eligible = [
        n
        for n in healthy
        if n.group_id == "g"
        and n.online
        and not n.draining
        and not n.cooling_down
        and n.has_room
        and "m" in n.models
    ]
    if any(n.models["m"] for n in eligible):
        chosen = next(n for n in healthy if n.node_id == decision.node_id)
        assert chosen.models["m"], decision.reason


@given(count=st.integers(2, 6), cap=st.integers(1, 10))
def test_equal_nodes_fill_evenly(count: int, cap: int) -> None:
    in_flight = dict.fromkeys(range(count), 0)
    rng = random.Random(7)
    for _ in range(count * cap):
        fleet = [node(str(i), in_flight=in_flight[i], cap=cap) for i in range(count)]
        decision = schedule(fleet, Request("g", "m"), rng=rng)
        in_flight[int(decision.node_id or -1)] += 1
        assert max(in_flight.values()) - min(in_flight.values()) <= 1
    assert set(in_flight.values()) == {cap}


def test_ties_are_broken_fairly() -> None:
    rng = random.Random(42)
    fleet = [node(str(i)) for i in range(4)]
    picks = Counter(schedule(fleet, Request("g", "m"), rng=rng).node_name for _ in range(4000))
    assert all(900 <= picks[str(i)] <= 1100 for i in range(4)), picks


def test_weights_are_configurable() -> None:
    fleet = [node("hot", models={"m": True}, in_flight=3), node("idle")]
    no_hot_bonus = Weights(loaded=0.0)
    assert schedule(fleet, Request("g", "m"), no_hot_bonus).node_name == "idle"
