"""Choosing the node for a request: filter, then weighted score. A pure function.

Layer 1 keeps only nodes that can serve the request now: the key's group, online, not
draining, not cooling down after failures, serving the model (by its id or through the
group's alias), below their concurrency limit, and not already tried for this request.
Layer 2 scores the rest. Having the model loaded in VRAM dominates (no cold start); then
free capacity, the relay's own measurements of time to first token and tokens/s, recent
failures (a node that fails fast looks idle and must not attract traffic), and the GPU's
utilization and VRAM headroom. For a model loaded nowhere, free VRAM decides. A recent
conversation's node gets a bonus so its prompt cache is reused. Ties are broken at random.

Everything here is computation over :class:`NodeSnapshot` values, so it is unit- and
property-tested without I/O; every :class:`Decision` says why it was made.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

TIE_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    """What the scheduler knows of one node at one moment."""

    node_id: str
    name: str
    group_id: str
    models: Mapping[str, bool]  # model id -> loaded in VRAM
    in_flight: int
    max_concurrency: int
    online: bool = True
    draining: bool = False
    cooling_down: bool = False
    ttft_ms: float | None = None  # moving average measured by the relay
    tokens_per_s: float | None = None  # moving average measured by the relay
    failure_rate: float = 0.0  # decaying 0..1: how often recent requests failed
    gpu_utilization_pct: float | None = None
    vram_free_mb: float | None = None
    vram_total_mb: float | None = None

    @property
    def has_room(self) -> bool:
        return self.in_flight < self.max_concurrency


@dataclass(frozen=True, slots=True)
class Weights:
    """Relative importance of each term (relay config ``[scheduler]``)."""

    loaded: float = 1000.0
    capacity: float = 40.0
    ttft: float = 15.0
    throughput: float = 15.0
    failures: float = 1500.0  # a node failing every request loses even its loaded model
    gpu_utilization: float = 10.0
    vram_headroom: float = 10.0
    affinity: float = 60.0


class Outcome(enum.Enum):
    CHOSEN = "chosen"
    NO_NODES = "no_nodes"  # nothing of the group is online and usable
    UNKNOWN_MODEL = "unknown_model"  # online nodes exist, none serves the model
    SATURATED = "saturated"  # nodes serve it, all at capacity
    EXHAUSTED = "exhausted"  # every node serving it was already tried for this request


@dataclass(frozen=True, slots=True)
class Decision:
    """The scheduler's answer, with its reasons."""

    outcome: Outcome
    node_id: str | None = None
    node_name: str | None = None
    model: str | None = None  # the name to send to the chosen node (alias resolved)
    reason: str = ""
    scores: tuple[tuple[str, float], ...] = ()  # (node name, score), best first


@dataclass(frozen=True, slots=True)
class Request:
    """What is being scheduled."""

    group_id: str
    model: str
    alias_targets: tuple[str, ...] = ()  # backend names the model is an alias for
    affinity_node: str | None = None  # node that served this conversation recently
    exclude: Collection[str] = field(default_factory=frozenset)  # nodes already tried


def served_name(node: NodeSnapshot, request: Request) -> str | None:
    """The name under which ``node`` serves the requested model, or None."""
    if request.model in node.models:
        return request.model
    for target in request.alias_targets:
        if target in node.models:
            return target
    return None


def schedule(
    nodes: Sequence[NodeSnapshot],
    request: Request,
    weights: Weights = Weights(),
    rng: random.Random | None = None,
) -> Decision:
    """Pick the best node for ``request`` among ``nodes``; never one outside its group,
    never one without room, never one in ``request.exclude``."""
    usable = [
        n
        for n in nodes
        if n.group_id == request.group_id and n.online and not n.draining and not n.cooling_down
    ]
    if not usable:
        return Decision(Outcome.NO_NODES, reason="no usable node of the group is online")
    serving = [(n, name) for n in usable if (name := served_name(n, request)) is not None]
    if not serving:
        return Decision(Outcome.UNKNOWN_MODEL, reason=f"no online node serves {request.model!r}")
    untried = [(n, name) for n, name in serving if n.node_id not in request.exclude]
    if not untried:
        return Decision(Outcome.EXHAUSTED, reason=f"all {len(serving)} nodes serving it were tried")
    candidates = [(n, name) for n, name in untried if n.has_room]
    if not candidates:
        return Decision(Outcome.SATURATED, reason=f"{len(untried)} nodes serve it; none has room")

    loaded_anywhere = any(n.models[name] for n, name in candidates)
    best_tps = max((n.tokens_per_s or 0.0) for n, _ in candidates) or 1.0
    most_vram = max((n.vram_free_mb or 0.0) for n, _ in candidates) or 1.0
    scored = []
    for node, name in candidates:
        score, why = _score(node, name, request, weights, loaded_anywhere, best_tps, most_vram)
        scored.append((score, node, name, why))
    top = max(s for s, *_ in scored)
    tied = [entry for entry in scored if top - entry[0] <= TIE_EPSILON]
    score, node, name, why = (rng or random).choice(tied)
    ranking = tuple(sorted(((n.name, round(s, 3)) for s, n, _, _ in scored), key=lambda x: -x[1]))
    tie = f"; tie among {len(tied)} broken at random" if len(tied) > 1 else ""
    return Decision(
        Outcome.CHOSEN,
        node.node_id,
        node.name,
        name,
        reason=f"{node.name}: {why}{tie}",
        scores=ranking,
    )


def _score(
    node: NodeSnapshot,
    name: str,
    request: Request,
    w: Weights,
    loaded_anywhere: bool,
    best_tps: float,
    most_vram: float,
) -> tuple[float, str]:
    parts: list[str] = []
    score = 0.0
    if node.models[name]:
        score += w.loaded
        parts.append("model loaded")
    free = 1.0 - node.in_flight / node.max_concurrency
    score += w.capacity * free
    parts.append(f"{node.in_flight}/{node.max_concurrency} busy")
    if node.ttft_ms is not None:
        score += w.ttft * 100.0 / (100.0 + node.ttft_ms)  # 1 at 0 ms, 0.5 at 100 ms
        parts.append(f"ttft {node.ttft_ms:.0f} ms")
    if node.tokens_per_s is not None:
        score += w.throughput * node.tokens_per_s / best_tps
        parts.append(f"{node.tokens_per_s:.0f} tok/s")
    if node.failure_rate > 0:
        score -= w.failures * node.failure_rate
        parts.append(f"failure rate {node.failure_rate:.2f}")
    if node.gpu_utilization_pct is not None:
        score -= w.gpu_utilization * node.gpu_utilization_pct / 100.0
    if node.vram_free_mb is not None:
        if loaded_anywhere:
            if node.vram_total_mb:
                score += w.vram_headroom * node.vram_free_mb / node.vram_total_mb
        else:
            # loaded nowhere: the node with the most free VRAM loads it best
            score += w.loaded / 2 * node.vram_free_mb / most_vram
            parts.append(f"{node.vram_free_mb:.0f} MB VRAM free")
    if request.affinity_node == node.node_id:
        score += w.affinity
        parts.append("continues a recent conversation")
    return score, ", ".join(parts)
