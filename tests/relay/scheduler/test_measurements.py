"""Node measurements (moving averages, failures, cooldown) and conversation affinity."""

from __future__ import annotations

from relay.affinity import AffinityMap, conversation_key
from relay.nodestats import FleetStats


def test_moving_averages_and_failure_rate() -> None:
    stats = FleetStats(cooldown_after=3, cooldown_s=30)
    stats.success("a", ttft_ms=100, completion_tokens=101, duration_ms=1100, streamed=True)
    node = stats.get("a")
    assert node.ttft_ms == 100 and node.tokens_per_s == 101.0
    stats.success("a", ttft_ms=200, completion_tokens=None, duration_ms=300, streamed=True)
    assert node.ttft_ms == 120  # 100 + 0.2 * (200 - 100)
    assert not stats.failure("a", now=0)
    assert node.failure_rate > 0
    stats.success("a", ttft_ms=None, completion_tokens=None, duration_ms=5, streamed=False)
    assert node.consecutive_failures == 0


def test_consecutive_failures_start_a_cooldown() -> None:
    stats = FleetStats(cooldown_after=2, cooldown_s=30)
    assert not stats.failure("a", now=100)
    assert stats.failure("a", now=100)
    assert stats.get("a").cooling_down(120)
    assert not stats.get("a").cooling_down(131)


def test_conversation_key_follows_the_leading_messages() -> None:
    turn1 = {
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    }
    turn2 = {
        "messages": [
            *turn1["messages"],
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "more"},
        ]
    }
    other = {"messages": [{"role": "user", "content": "something else"}]}
    assert conversation_key("k", turn1) == conversation_key("k", turn2)
    assert conversation_key("k", turn1) != conversation_key("k", other)
    assert conversation_key("k", turn1) != conversation_key("other-key", turn1)
    assert conversation_key("k", {"prompt": "x"}) is None


def test_affinity_map_expires_and_is_bounded() -> None:
    affinity = AffinityMap(ttl_s=10, max_entries=2)
    affinity.remember("c1", "a", now=0)
    assert affinity.get("c1", now=5) == "a"
    assert affinity.get("c1", now=11) is None
    affinity.remember("c1", "a", now=0)
    affinity.remember("c2", "b", now=0)
    affinity.remember("c3", "c", now=0)
    assert affinity.get("c1", now=1) is None  # evicted, least recently used
    assert affinity.get("c3", now=1) == "c"
