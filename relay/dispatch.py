"""Getting one request answered: schedule, queue when all are busy, fail over, measure.

:meth:`Dispatcher.dispatch` runs the scheduler over the group's node snapshots, waits in
the per-model queue when every node is at capacity, opens the stream on the chosen node
and waits for the first bytes. A node that fails before the first byte could reach the
consumer (tunnel drop, 5xx or 429 from its backend, first-byte timeout) is charged a
failure and the request moves to the next candidate, up to ``max_attempts`` within the
request's deadline. Once bytes are handed back, nothing is retried. Every decision is
logged at debug level and kept for the admin API.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

from config import SchedulerSettings
from relay.affinity import AffinityMap, conversation_key
from relay.directory import NodeDirectory
from relay.nodestats import FleetStats
from relay.protocol import ResponseHead
from relay.queueing import QueueFull, RequestQueues
from relay.requests import RequestLog
from relay.scheduler import Decision, NodeSnapshot, Outcome, Request, Weights, schedule
from relay.tunnel.session import AgentSession
from relay.tunnel.stream import StreamFailed, TunnelStream

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class Dispatched:
    """A request the chosen node has started answering."""

    session: AgentSession
    stream: TunnelStream
    head: ResponseHead
    first: bytes | None  # streamed: the first batch; otherwise the whole body


def weights_from(settings: SchedulerSettings) -> Weights:
    return Weights(
        loaded=settings.weight_loaded,
        capacity=settings.weight_capacity,
        ttft=settings.weight_ttft,
        throughput=settings.weight_throughput,
        failures=settings.weight_failures,
        gpu_utilization=settings.weight_gpu_utilization,
        vram_headroom=settings.weight_vram_headroom,
        affinity=settings.weight_affinity,
    )


def snapshot(session: AgentSession, stats: FleetStats, now: float) -> NodeSnapshot:
    """The scheduler's view of a live session."""
    measured = stats.get(session.node_id)
    gpus = session.gpus or ()
    utilization = [g["utilization_pct"] for g in gpus if g.get("utilization_pct") is not None]
    totals = [g["memory_total_mb"] for g in gpus if g.get("memory_total_mb") is not None]
    used = [g["memory_used_mb"] for g in gpus if g.get("memory_used_mb") is not None]
    return NodeSnapshot(
        node_id=session.node_id,
        name=session.node_name,
        group_id=session.group_id,
        models={m.id: m.loaded for m in session.models.values()},
        in_flight=session.in_flight,
        max_concurrency=session.max_concurrency,
        online=not session.closed,
        draining=session.draining,
        cooling_down=measured.cooling_down(now),
        ttft_ms=measured.ttft_ms,
        tokens_per_s=measured.tokens_per_s,
        failure_rate=measured.failure_rate,
        gpu_utilization_pct=sum(utilization) / len(utilization) if utilization else None,
        vram_free_mb=sum(totals) - sum(used) if totals and len(used) == len(totals) else None,
        vram_total_mb=sum(totals) if totals else None,
    )


class Dispatcher:
    """Per relay process: the scheduler's state (measurements, queues, affinity)."""

    def __init__(
        self,
        directory: NodeDirectory,
        settings: SchedulerSettings,
        *,
        first_byte_timeout_s: float,
        request_timeout_s: float,
        rng: random.Random | None = None,
    ) -> None:
        self.directory = directory
        self.settings = settings
        self.weights = weights_from(settings)
        self.stats = FleetStats(
            cooldown_after=settings.cooldown_failures, cooldown_s=settings.cooldown_s
        )
        self.queues = RequestQueues(max_length=settings.queue_max_length)
        self.affinity = AffinityMap(ttl_s=settings.affinity_ttl_s)
        self.decisions: deque[dict[str, Any]] = deque(maxlen=200)
        self._first_byte = first_byte_timeout_s
        self._request_timeout = request_timeout_s
        self._rng = rng or random.Random()

    # -- scheduling ----------------------------------------------------------------------

    def decide(self, request: Request) -> Decision:
        now = time.monotonic()
        nodes = [snapshot(s, self.stats, now) for s in self.directory.sessions(request.group_id)]
        decision = schedule(nodes, request, self.weights, self._rng)
        log.debug(
            "schedule %s for group %s: %s (%s)",
            request.model,
            request.group_id,
            decision.outcome.value,
            decision.reason,
        )
        self.decisions.append(
            {
                "time": time.time(),
                "group_id": request.group_id,
                "model": request.model,
                "outcome": decision.outcome.value,
                "node": decision.node_name,
                "reason": decision.reason,
                "scores": list(decision.scores),
            }
        )
        return decision

    async def _choose(
        self, request: Request, queued: bool, deadline: float
    ) -> tuple[Decision, bool]:
        """Schedule, queueing while every node is busy, until ``deadline`` (monotonic).
        Returns (decision, whether the request has queued)."""
        group, model = request.group_id, request.model
        if not queued and self.queues.waiting(group, model):  # never overtake the queue
            queued = await self._wait(group, model, front=False, deadline=deadline)
        while True:
            decision = self.decide(request)
            if decision.outcome is not Outcome.SATURATED:
                if queued:
                    # Leaving the queue: let the next waiter decide too. A new node, or a
                    # node gone, changes more than one slot; one wake-up per change would
                    # leave the others waiting for the timeout.
                    self.queues.capacity_freed(group)
                return decision, queued
            queued = await self._wait(group, model, front=queued, deadline=deadline)

    async def _wait(self, group: str, model: str, *, front: bool, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):
                await self.queues.wait_turn(group, model, front=front)
        except QueueFull as exc:
            raise StreamFailed(
                503, f"All nodes serving this model are busy and {exc}.", code="queue_full"
            ) from None
        except TimeoutError:
            raise StreamFailed(
                503,
                "All nodes serving this model stayed busy; try again soon.",
                code="queue_timeout",
            ) from None
        return True

    # -- one request ---------------------------------------------------------------------

    async def dispatch(
        self,
        entry: RequestLog,
        parsed: dict[str, Any],
        body: bytes,
        alias_targets: tuple[str, ...] = (),
    ) -> Dispatched:
        """Get ``entry``'s request answered by some node; raises :class:`StreamFailed`
        when none can. Safe to cancel: an open stream is cancelled on the node."""
        started = time.monotonic()
        deadline = started + self._request_timeout
        queue_deadline = min(deadline, started + self.settings.queue_timeout_s)
        conversation = (
            conversation_key(entry.principal.key_id, parsed)
            if entry.route == "/v1/chat/completions"
            else None
        )
        tried: set[str] = set()
        last_failure: StreamFailed | None = None
        last_answer: Dispatched | None = None
        queued = False
        for _ in range(self.settings.max_attempts):
            request = Request(
                entry.principal.group_id,
                entry.model,
                alias_targets,
                self.affinity.get(conversation),
                frozenset(tried),
            )
            decision, queued = await self._choose(request, queued, queue_deadline)
            if decision.outcome is not Outcome.CHOSEN:
                break
            session = self.directory.get(decision.node_id or "")
            if session is None:
                continue
            tried.add(session.node_id)
            entry.node_id, entry.node_name = session.node_id, session.node_name
            payload = body if decision.model == entry.model else _renamed(parsed, decision.model)
            try:
                answer = await self._attempt(session, entry, payload, deadline)
            except StreamFailed as failure:
                last_failure = failure
                if failure.status not in RETRYABLE_STATUSES:
                    raise
                self._failed(session, failure.message)
                continue
            if answer.head.status in RETRYABLE_STATUSES:
                last_answer = answer  # the backend refused; another node may not
                self._failed(session, f"backend answered {answer.head.status}")
                continue
            self.affinity.remember(conversation, session.node_id)
            return answer
        if last_answer is not None:
            return last_answer
        if last_failure is not None:
            raise last_failure
        return self._refuse(decision)

    async def _attempt(
        self, session: AgentSession, entry: RequestLog, payload: bytes, deadline: float
    ) -> Dispatched:
        remaining = max(0.001, deadline - time.monotonic())
        stream = await self.directory.open_stream(session, "POST", entry.route, payload, remaining)
        whole = not entry.streaming
        first: bytes | None = None
        try:
            async with asyncio.timeout(min(self._first_byte, remaining)):
                head = await stream.wait_head()
                whole = whole or head.status >= 400
                if not whole:
                    first = await stream.next_batch()
            if whole:  # after the head, the agent's deadline bounds the rest of the body
                first = await stream.read_all()
        except TimeoutError:
            await stream.cancel()
            raise StreamFailed(
                504, "The node did not start answering in time.", code="first_byte_timeout"
            ) from None
        except BaseException:
            if not stream.finished:
                await asyncio.shield(stream.cancel())
            raise
        return Dispatched(session, stream, head, first)

    def _failed(self, session: AgentSession, why: str) -> None:
        if self.stats.failure(session.node_id):
            log.warning(
                "node %s failed %d times in a row (%s); cooling down for %.0f s",
                session.node_name,
                self.settings.cooldown_failures,
                why,
                self.settings.cooldown_s,
            )
        else:
            log.info(
                "node %s failed a request before answering (%s); trying another",
                session.node_name,
                why,
            )

    def _refuse(self, decision: Decision) -> Dispatched:
        if decision.outcome is Outcome.UNKNOWN_MODEL:
            raise StreamFailed(
                404,
                "The model does not exist or no online node of your group serves it.",
                code="model_not_found",
                error_type="invalid_request_error",
            )
        raise StreamFailed(
            503, "No nodes of your group are online right now.", code="no_nodes_available"
        )

    def finished(self, entry: RequestLog) -> None:
        """Feed the node's measurements once a request that reached it is over."""
        if entry.node_id is None:
            return
        if entry.status < 400:
            self.stats.success(
                entry.node_id,
                ttft_ms=entry.ttft_ms,
                completion_tokens=entry.completion_tokens,
                duration_ms=entry.duration_ms,
                streamed=entry.streaming,
            )
        elif entry.error_code in ("node_disconnected", "node_timeout"):
            self.stats.failure(entry.node_id)  # it died mid-answer


def _renamed(parsed: dict[str, Any], model: str | None) -> bytes:
    """The body with ``model`` replaced by the node's own name for an aliased model."""
    return orjson.dumps({**parsed, "model": model})
