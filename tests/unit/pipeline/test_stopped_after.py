"""A shutdown that stops a request after its images were delivered, wherever it lands (here: while
the summary is posted), tells the member what reached them and what it cost (`StoppedAfter`). A stop
after the last image used to escape as a plain cancellation: a member who got, and paid for, every
image read "this request was stopped ... please try again", and might pay again."""

from __future__ import annotations

import asyncio

import aiohttp

from image_gateway.client import Completed, GeneratedImage
from image_gateway.presets import build_catalog, get_preset
from pipeline.dispatch import Dispatcher
from pipeline.job import ImageJob
from pipeline.queue import FairQueue
from pipeline.runner import Pipeline, PipelineOptions
from storage import Limits, open_storage
from tests.unit.pipeline.test_partial_failure import PRICE, Status, jpeg


class Stream:
    def __init__(self, images: int) -> None:
        self.images = images

    async def events(self, request):
        for index in range(self.images):
            yield GeneratedImage(index, None, jpeg(), "64x64")
        yield Completed(self.images)


class SlowSummary(Status):
    """Posting the summary is where the shutdown finds it (a slow Discord edit)."""

    def __init__(self, ticket, queue: FairQueue) -> None:
        super().__init__(ticket)
        self.queue = queue

    async def finish(self, outcome) -> None:
        asyncio.get_running_loop().create_task(self.queue.drain(0))  # the shutdown's stop
        await asyncio.sleep(5)
        await super().finish(outcome)


async def test_a_stop_while_the_summary_posts_says_what_reached_the_member(tmp_path) -> None:
    preset = build_catalog(get_preset("aiearth"))
    model = preset.model("doubao-seedream-5-0-260128").with_price(PRICE)
    async with open_storage(f"sqlite:///{tmp_path / 'bot.db'}") as storage, aiohttp.ClientSession() as http:

        async def limits(job: ImageJob) -> Limits:
            return Limits(None, None, None)

        pipeline = Pipeline(client=Stream(2), ledger=storage.ledger, http=http,  # type: ignore[arg-type]
                            limits=limits, options=PipelineOptions())  # fmt: skip
        queue = FairQueue(concurrency=1, per_member=2)
        dispatcher = Dispatcher(pipeline, queue, storage.ledger)
        job = ImageJob(command="series", guild_id=1, channel_id=2, user_id=3, locale="en-US", prompt="seasons",
                       model=model, count=2, series=True)  # fmt: skip
        statuses: list[SlowSummary] = []

        async def begin(ticket) -> SlowSummary:
            statuses.append(SlowSummary(ticket, queue))
            return statuses[0]

        async with asyncio.timeout(10):
            await dispatcher.run(job, begin)
        [row] = await storage.db.fetchall("SELECT status, images_delivered, charged_micros FROM requests")
    assert tuple(row) == ("settled", 2, 2 * PRICE)  # both delivered and paid for
    [told] = statuses[0].failures
    # Told "You were not charged for images you did not get; please try again in a minute" instead.
    assert "2 of 2 images reached you and you were charged $0.27" in told, told
