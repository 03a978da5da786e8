"""The line every request runs through: a request that fails before it runs holds nothing; members
asking together are admitted a few at a time, in turn, and waiting in line holds up no admission."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from image_gateway.presets import build_catalog, get_preset
from pipeline import dispatch
from pipeline.dispatch import ADMITTING_AT_ONCE, Dispatcher
from pipeline.job import ImageJob
from pipeline.queue import FairQueue
from pipeline.runner import Pipeline, PipelineOptions, Ticket
from storage import Limits, open_storage


class StatusThatBreaks:
    """A `TurnStatus` whose wait for the turn fails as a dropped connection to Discord would."""

    upload_limit = 10 * 1024 * 1024

    def __init__(self, ticket: Ticket, fails_in: str) -> None:
        self.ticket = ticket
        self.fails_in = fails_in
        self.told: list[BaseException] = []

    async def wait_turn(self, queue, place) -> None:
        if self.fails_in == "wait_turn":
            raise aiohttp.ServerDisconnectedError()

    async def start(self) -> None:
        if self.fails_in == "start":
            raise RuntimeError("a bug while showing the first stage")

    async def fail(self, error: BaseException) -> None:
        self.told.append(error)

    async def quiet(self) -> None:
        return None


@pytest.mark.parametrize("fails_in", ["wait_turn", "start"])
async def test_a_request_that_fails_before_it_runs_is_released_and_told(tmp_path, fails_in) -> None:
    preset = build_catalog(get_preset("gogogotoken-com"))
    async with open_storage(f"sqlite:///{tmp_path / 'bot.db'}") as storage, aiohttp.ClientSession() as http:

        async def limits(job: ImageJob) -> Limits:
            return Limits(daily_images=2, monthly_micros=None, guild_monthly_micros=None)

        pipeline = Pipeline(client=None, ledger=storage.ledger, http=http, limits=limits,  # type: ignore[arg-type]
                            options=PipelineOptions())  # fmt: skip
        dispatcher = Dispatcher(pipeline, FairQueue(concurrency=1, per_member=2), storage.ledger)
        job = ImageJob(command="imagine", guild_id=1, channel_id=2, user_id=3, locale="en-US", prompt="a cat",
                       model=preset.model(preset.default_model), count=2)  # fmt: skip
        statuses: list[StatusThatBreaks] = []

        async def begin(ticket: Ticket) -> StatusThatBreaks:
            statuses.append(StatusThatBreaks(ticket, fails_in))
            return statuses[0]

        await dispatcher.run(job, begin)
        [row] = await storage.db.fetchall("SELECT status, error_code FROM requests")
        assert tuple(row) == ("released", "not_started")
        assert len(statuses[0].told) == 1  # the member hears that it failed
        usage = await storage.ledger.usage(1, 3)
        assert (usage.images_today, usage.pending_images) == (0, 0)  # their two images are theirs again


class _Pipeline:
    """Admits after a few trips through the event loop, as the database's would take; records when
    each admission starts and each request starts running."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.admitting = 0
        self.most_admitting = 0
        self.release = asyncio.Event()

    async def admit(self, job: ImageJob) -> Ticket:
        self.events.append(("admit", job.user_id))
        self.admitting += 1
        self.most_admitting = max(self.most_admitting, self.admitting)
        for _ in range(5):
            await asyncio.sleep(0)
        self.admitting -= 1
        return Ticket(job=job, request=None, request_id=job.user_id, limits=Limits(None, None, None))  # type: ignore[arg-type]

    async def recheck(self, ticket: Ticket, *, behind) -> Ticket:
        return ticket  # no limit changed

    async def execute(self, ticket: Ticket, live) -> None:
        self.events.append(("run", ticket.request_id))
        await self.release.wait()


class _Status:
    upload_limit = 10 * 1024 * 1024

    def __init__(self, ticket: Ticket, waits: list[int]) -> None:
        self.ticket = ticket
        self._waits = waits

    async def wait_turn(self, queue: FairQueue, place) -> None:
        self._waits.append(self.ticket.request_id)  # shown its place in line
        await queue.wait_turn(place)

    async def start(self) -> None:
        return None

    async def quiet(self) -> None:
        return None


def _job(user_id: int) -> ImageJob:
    preset = build_catalog(get_preset("gogogotoken-com"))
    return ImageJob(command="imagine", guild_id=1, channel_id=2, user_id=user_id, locale="en-US", prompt="a cat",
                    model=preset.model(preset.default_model), count=1)  # fmt: skip


async def _burst(members: int, concurrency: int) -> tuple[_Pipeline, list[int], list[asyncio.Task[None]]]:
    pipeline, waits = _Pipeline(), []
    dispatcher = Dispatcher(pipeline, FairQueue(concurrency=concurrency, per_member=1), ledger=None)  # type: ignore[arg-type]

    async def begin(ticket: Ticket) -> _Status:
        return _Status(ticket, waits)

    tasks = [asyncio.create_task(dispatcher.run(_job(user), begin)) for user in range(1, members + 1)]
    for _ in range(200):
        await asyncio.sleep(0)
    return pipeline, waits, tasks


async def test_members_asking_together_are_admitted_in_turn_so_the_first_runs_before_the_last_is_admitted():
    pipeline, _waits, tasks = await _burst(members=20, concurrency=20)
    try:
        assert pipeline.most_admitting == ADMITTING_AT_ONCE
        admitted = [user for kind, user in pipeline.events if kind == "admit"]
        assert admitted == list(range(1, 21))  # in the order they asked
        # The first member's request runs before the last member's admission starts: without the
        # gate every admission took each step together, and the first ran only after all of them.
        assert pipeline.events.index(("run", 1)) < pipeline.events.index(("admit", 20))
    finally:
        pipeline.release.set()
        await asyncio.gather(*tasks)


async def test_a_request_waiting_in_line_does_not_hold_up_the_admission_of_those_after_it():
    # One runs at a time: the others wait in line, each shown its place, all of them admitted
    # (and acknowledged) at once, not ADMITTING_AT_ONCE of them.
    pipeline, waits, tasks = await _burst(members=ADMITTING_AT_ONCE * 3, concurrency=1)
    try:
        assert sorted(waits) == list(range(1, ADMITTING_AT_ONCE * 3 + 1))
        assert [event for event in pipeline.events if event[0] == "run"] == [("run", 1)]
    finally:
        pipeline.release.set()
        await asyncio.gather(*tasks)


async def test_a_request_that_waited_its_while_at_the_gate_is_admitted_alongside(monkeypatch):
    # Four admissions stuck (a slow disk): the fifth does not wait for them past ADMISSION_WAIT_SECONDS,
    # so that it is acknowledged within Discord's 3 s.
    monkeypatch.setattr(dispatch, "ADMISSION_WAIT_SECONDS", 0.3)
    stuck = asyncio.Event()

    class Stuck(_Pipeline):
        async def admit(self, job: ImageJob) -> Ticket:
            if job.user_id <= ADMITTING_AT_ONCE:
                await stuck.wait()
            return await super().admit(job)

    pipeline, waits = Stuck(), []
    dispatcher = Dispatcher(pipeline, FairQueue(concurrency=1, per_member=1), ledger=None)  # type: ignore[arg-type]

    async def begin(ticket: Ticket) -> _Status:
        return _Status(ticket, waits)

    tasks = [asyncio.create_task(dispatcher.run(_job(user), begin)) for user in range(1, ADMITTING_AT_ONCE + 2)]
    try:
        for _ in range(50):
            await asyncio.sleep(0)
        assert waits == []  # the fifth waits its turn
        async with asyncio.timeout(5):
            while not waits:
                await asyncio.sleep(0.01)
        assert waits == [ADMITTING_AT_ONCE + 1]  # then goes ahead while the four are still stuck
    finally:
        stuck.set()
        pipeline.release.set()
        await asyncio.gather(*tasks)
