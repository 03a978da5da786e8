"""The line every request runs through: a request that fails before it runs holds nothing."""

from __future__ import annotations

import aiohttp
import pytest

from image_gateway.presets import build_catalog, get_preset
from pipeline.dispatch import Dispatcher
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
