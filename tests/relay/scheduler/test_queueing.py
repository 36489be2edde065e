"""Waiting for capacity: FIFO order, bounds, timeouts, and turns that are not lost."""

from __future__ import annotations

import asyncio

import pytest

from relay.queueing import QueueFull, RequestQueues


async def _started(task: asyncio.Task[None]) -> None:
    for _ in range(5):  # let the task reach its first await
        await asyncio.sleep(0)
    assert not task.done()


async def test_waiters_are_woken_in_arrival_order() -> None:
    queues = RequestQueues(max_length=10)
    order: list[int] = []

    async def wait(i: int) -> None:
        await queues.wait_turn("g", "m")
        order.append(i)

    tasks = [asyncio.create_task(wait(i)) for i in range(3)]
    for task in tasks:
        await _started(task)
    assert queues.lengths() == {"g": {"m": 3}}
    for _ in range(3):
        queues.capacity_freed("g")
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert queues.lengths() == {}


async def test_full_queue_refuses_at_once_but_requeue_at_front_is_allowed() -> None:
    queues = RequestQueues(max_length=1)
    first = asyncio.create_task(queues.wait_turn("g", "m"))
    await _started(first)
    with pytest.raises(QueueFull):
        await queues.wait_turn("g", "m")
    again = asyncio.create_task(queues.wait_turn("g", "m", front=True))
    await _started(again)
    queues.capacity_freed("g")
    await again  # the front waiter went first
    assert not first.done()
    first.cancel()


async def test_timeout_removes_the_waiter() -> None:
    queues = RequestQueues()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await queues.wait_turn("g", "m")
    assert queues.waiting("g", "m") == 0


async def test_a_turn_given_to_a_cancelled_waiter_passes_on() -> None:
    queues = RequestQueues()
    first = asyncio.create_task(queues.wait_turn("g", "m"))
    second = asyncio.create_task(queues.wait_turn("g", "m"))
    await _started(first)
    await _started(second)
    queues.capacity_freed("g")  # first is woken ...
    first.cancel()  # ... but gives up before it runs
    await asyncio.wait_for(second, 1)
    assert first.cancelled()


async def test_other_groups_are_not_woken() -> None:
    queues = RequestQueues()
    waiter = asyncio.create_task(queues.wait_turn("g", "m"))
    await _started(waiter)
    queues.capacity_freed("other")
    await asyncio.sleep(0)
    assert not waiter.done()
    queues.capacity_freed("g")
    await asyncio.wait_for(waiter, 1)


async def test_a_requeued_waiter_is_not_orphaned_by_another_waiters_cleanup() -> None:
    """Two waiters woken at once; the first goes back to the front of a new queue; the
    second's cleanup must not drop that new queue (the waiter would never be woken)."""
    queues = RequestQueues()
    a = asyncio.create_task(queues.wait_turn("g", "m"))
    b = asyncio.create_task(queues.wait_turn("g", "m"))
    await _started(a)
    await _started(b)
    queues.capacity_freed("g")
    queues.capacity_freed("g")
    await a  # a runs first: its queue is empty and dropped ...
    again = asyncio.create_task(queues.wait_turn("g", "m", front=True))  # ... it requeues
    await _started(again)
    await b  # b's cleanup runs now
    assert queues.waiting("g", "m") == 1
    queues.capacity_freed("g")
    await asyncio.wait_for(again, 1)
