"""What the relay measures about each node: speed, failures, cooldown.

Moving averages of time to first token and of tokens per second, as the relay saw them
(the agent's own claims are not trusted for scheduling), a decaying failure rate, and a
cooldown after consecutive failures. In-process; a relay that restarts learns again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

ALPHA = 0.2  # weight of the newest sample in the moving averages


@dataclass
class NodeStats:
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    failure_rate: float = 0.0
    consecutive_failures: int = 0
    cooldown_until: float = 0.0

    def cooling_down(self, now: float) -> bool:
        return now < self.cooldown_until


def _ewma(previous: float | None, sample: float) -> float:
    return sample if previous is None else previous + ALPHA * (sample - previous)


class FleetStats:
    """Per-node measurements, fed by the gateway after each attempt."""

    def __init__(self, *, cooldown_after: int = 3, cooldown_s: float = 30.0) -> None:
        self._stats: dict[str, NodeStats] = {}
        self._cooldown_after = cooldown_after
        self._cooldown_s = cooldown_s

    def get(self, node_id: str) -> NodeStats:
        stats = self._stats.get(node_id)
        if stats is None:
            stats = self._stats[node_id] = NodeStats()
        return stats

    def success(
        self,
        node_id: str,
        *,
        ttft_ms: float | None,
        completion_tokens: int | None,
        duration_ms: float,
        streamed: bool,
    ) -> None:
        stats = self.get(node_id)
        stats.consecutive_failures = 0
        stats.failure_rate = _ewma(stats.failure_rate, 0.0)
        if ttft_ms is not None and streamed:
            stats.ttft_ms = _ewma(stats.ttft_ms, ttft_ms)
        generating_ms = duration_ms - (ttft_ms or 0.0)
        if completion_tokens and completion_tokens > 1 and generating_ms > 0:
            stats.tokens_per_s = _ewma(stats.tokens_per_s, completion_tokens * 1000 / generating_ms)

    def failure(self, node_id: str, now: float | None = None) -> bool:
        """Count a failed attempt; True if the node just entered its cooldown."""
        stats = self.get(node_id)
        stats.failure_rate = _ewma(stats.failure_rate, 1.0)
        stats.consecutive_failures += 1
        if stats.consecutive_failures >= self._cooldown_after:
            stats.consecutive_failures = 0
            stats.cooldown_until = (now if now is not None else time.monotonic()) + self._cooldown_s
            return True
        return False

    def forget(self, node_id: str) -> None:
        self._stats.pop(node_id, None)
