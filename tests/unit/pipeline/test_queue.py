"""The fair queue on its own: order, limits, withdrawal, estimates and draining."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.explain import UserError
from pipeline.progress import _wait_in_words
from pipeline.queue import DEFAULT_RUN_SECONDS, FairQueue, Withdrawn


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def admitted(queue: FairQueue, user_id: int, request_id: int):
    place = queue.claim(user_id)
    queue.enqueue(place, request_id)
    return place


async def test_first_come_first_served_across_members_within_the_global_limit():
    queue = FairQueue(concurrency=2, per_member=5)
    a, b, c, d = (admitted(queue, user, rid) for user, rid in ((1, 10), (2, 20), (1, 11), (3, 30)))
    assert (a.state, b.state, c.state, d.state) == ("running", "running", "waiting", "waiting")
    assert (queue.position(c), queue.position(d)) == (1, 2)
    queue.leave(b)
    assert c.state == "running" and queue.position(d) == 1
    await queue.wait_turn(c)  # its turn came: returns at once
    queue.leave(a)
    assert d.state == "running"


async def test_a_member_over_the_limit_is_refused_before_anything_is_reserved():
    queue = FairQueue(concurrency=1, per_member=2)
    first = queue.claim(7)
    queue.claim(7)  # claimed (still admitting) counts as in flight
    with pytest.raises(UserError) as refused:
        queue.claim(7)
    assert refused.value.key == "queue.member_busy" and refused.value.params == {"limit": 2}
    queue.claim(8)  # another member is not affected
    queue.leave(first)
    queue.claim(7)


async def test_a_withdrawn_place_leaves_the_line_and_its_waiter_hears_why():
    queue = FairQueue(concurrency=1, per_member=5)
    running = admitted(queue, 1, 1)
    waiting = admitted(queue, 2, 2)
    behind = admitted(queue, 3, 3)
    assert queue.withdraw(running) is False  # a running request is not withdrawn
    assert queue.withdraw(waiting, "cancelled") is True
    assert queue.withdraw(waiting) is False
    with pytest.raises(Withdrawn) as withdrawn:
        await queue.wait_turn(waiting)
    assert withdrawn.value.reason == "cancelled"
    assert queue.position(behind) == 1
    assert queue.find(2) is waiting and queue.find(3) is behind
    queue.leave(waiting)
    assert queue.find(2) is None


async def test_the_estimate_follows_recent_real_durations():
    clock = Clock()
    queue = FairQueue(concurrency=1, per_member=5, clock=clock)
    first = admitted(queue, 1, 1)
    second = admitted(queue, 2, 2)
    assert queue.estimate(second) == DEFAULT_RUN_SECONDS  # no history yet
    clock.now += 10
    first.ran = True  # it was generating (the dispatcher says so), not withdrawn at its turn
    queue.leave(first)  # ran 10 s
    third = admitted(queue, 3, 3)
    fourth = admitted(queue, 4, 4)
    clock.now += 4
    assert queue.average_seconds() == 10
    assert queue.estimate(third) == 6  # the running one has about 6 s left
    assert queue.estimate(fourth) == 16
    clock.now += 30  # it overruns the 10 s average by far: not "about 1 s" left, nor "0"
    assert queue.estimate(third) == 2.5
    assert queue.estimate(fourth) == 12.5


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [
        (0.2, "1 s", "1 秒"),
        (44.1, "45 s", "45 秒"),
        (89, "89 s", "89 秒"),
        (90, "2 min", "2 分钟"),
        (340, "6 min", "6 分钟"),
    ],
)
def test_the_wait_reads_in_seconds_then_in_minutes(seconds: float, en: str, zh: str) -> None:
    assert _wait_in_words(seconds, "en-US") == en
    assert _wait_in_words(seconds, "zh-CN") == zh


async def test_drain_refuses_new_requests_withdraws_waiting_and_stops_what_overruns():
    queue = FairQueue(concurrency=1, per_member=5)
    started = asyncio.Event()
    outcome: dict[str, object] = {}

    async def request(user_id: int, request_id: int) -> None:
        with queue.claim(user_id) as place:
            queue.enqueue(place, request_id)
            try:
                await queue.wait_turn(place)
                started.set()
                await asyncio.sleep(3600)
            except Withdrawn as withdrawn:
                outcome[request_id] = withdrawn.reason
            except asyncio.CancelledError:
                outcome[request_id] = "stopped" if place.stopped else "cancelled"

    tasks = [asyncio.create_task(request(1, 1))]
    await started.wait()
    tasks.append(asyncio.create_task(request(2, 2)))
    await asyncio.sleep(0)
    await queue.drain(0.05)
    assert outcome == {1: "stopped", 2: "shutdown"}
    with pytest.raises(UserError) as refused:
        queue.claim(3)
    assert refused.value.key == "queue.restarting"
    await asyncio.gather(*tasks)


async def test_drain_lets_requests_that_finish_in_time_finish():
    queue = FairQueue(concurrency=1, per_member=5)
    finished = []

    async def request() -> None:
        with queue.claim(1) as place:
            queue.enqueue(place, 1)
            await queue.wait_turn(place)
            await asyncio.sleep(0.05)
            finished.append(place.stopped)

    task = asyncio.create_task(request())
    await asyncio.sleep(0)
    await queue.drain(5)
    assert finished == [False]
    await task
