"""A request that fails after some images were delivered: the member's summary tells what was made
and charged; nothing tells them they were not charged when they were."""

from __future__ import annotations

import asyncio
import base64
import io

import aiohttp
import discord
from PIL import Image

from image_gateway.client import Completed, GeneratedImage
from image_gateway.errors import APIConnectionError
from image_gateway.presets import build_catalog, get_preset
from pipeline.dispatch import Dispatcher
from pipeline.explain import explain
from pipeline.job import ImageJob
from pipeline.queue import FairQueue
from pipeline.runner import Pipeline, PipelineOptions
from pipeline.summary import outcome_text
from storage import Limits, open_storage

PRICE = 135_000
BROKEN = APIConnectionError("connection to the gateway failed: reset")


def jpeg() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode()


class StreamThatBreaks:
    """`images` images, then the connection breaks before the gateway's last word."""

    def __init__(self, images: int) -> None:
        self.images = images

    async def events(self, request):
        for index in range(self.images):
            yield GeneratedImage(index, None, jpeg(), "64x64")
            await asyncio.sleep(0.01)
        raise BROKEN
        yield Completed(self.images)  # never reached


class Status:
    """What the member sees (a `TurnStatus` without Discord): posts, the summary, failures."""

    upload_limit = 10 * 1024 * 1024

    def __init__(self, ticket, *, summary_fails: bool = False) -> None:
        self.ticket = ticket
        self.summary_fails = summary_fails
        self.posted = 0
        self.summaries: list[str] = []
        self.failures: list[str] = []

    async def post(self, images) -> None:
        self.posted += len(images)

    async def finish(self, outcome) -> None:
        if self.summary_fails:
            raise discord.DiscordServerError(_Response(500), {"message": "Internal Server Error", "code": 0})
        self.summaries.append(outcome_text(outcome, "en-US"))

    async def fail(self, error: BaseException) -> None:
        self.failures.append(explain(error, "en-US"))

    async def wait_turn(self, queue, place) -> None:
        await queue.wait_turn(place)

    async def start(self) -> None:
        return None

    async def quiet(self) -> None:
        return None


class _Response:
    def __init__(self, status: int) -> None:
        self.status, self.reason = status, "Internal Server Error"


async def run_series(tmp_path, count: int, made: int, **status_options) -> tuple[Status, tuple]:
    preset = build_catalog(get_preset("aiearth"))
    model = preset.model("doubao-seedream-5-0-260128").with_price(PRICE)
    async with open_storage(f"sqlite:///{tmp_path / 'bot.db'}") as storage, aiohttp.ClientSession() as http:

        async def limits(job: ImageJob) -> Limits:
            return Limits(None, None, None)

        pipeline = Pipeline(client=StreamThatBreaks(made), ledger=storage.ledger, http=http,  # type: ignore[arg-type]
                            limits=limits, options=PipelineOptions())  # fmt: skip
        dispatcher = Dispatcher(pipeline, FairQueue(concurrency=1, per_member=2), storage.ledger)
        job = ImageJob(command="series", guild_id=1, channel_id=2, user_id=3, locale="en-US", prompt="seasons",
                       model=model, count=count, series=True)  # fmt: skip
        statuses: list[Status] = []

        async def begin(ticket) -> Status:
            statuses.append(Status(ticket, **status_options))
            return statuses[0]

        await dispatcher.run(job, begin)
        [row] = await storage.db.fetchall("SELECT status, images_delivered, charged_micros FROM requests")
    return statuses[0], tuple(row)


async def test_a_series_cut_after_some_images_says_the_rest_were_not_made(tmp_path) -> None:
    status, row = await run_series(tmp_path, count=4, made=1)
    assert row == ("settled", 1, PRICE)
    [summary] = status.summaries
    assert "1 image · cost $0.135" in summary
    assert "stopped before all 4 images were made" in summary
    assert status.failures == []


async def test_a_stream_that_breaks_after_its_last_image_is_not_called_stopped(tmp_path) -> None:
    status, row = await run_series(tmp_path, count=2, made=2)
    assert row == ("settled", 2, 2 * PRICE)
    [summary] = status.summaries
    assert "2 images" in summary and "stopped before" not in summary


async def test_a_summary_discord_refuses_after_the_charge_does_not_say_nothing_was_charged(tmp_path) -> None:
    status, row = await run_series(tmp_path, count=3, made=1, summary_fails=True)
    assert row == ("settled", 1, PRICE)
    assert status.posted == 1
    assert not any("not charged" in text for text in status.failures), status.failures


class UnderCounting:
    """Three images streamed, then a final count of none (a gateway's usage under the truth)."""

    async def events(self, request):
        for index in range(3):
            yield GeneratedImage(index, None, jpeg(), "64x64")
            await asyncio.sleep(0.01)
        yield Completed(0)


async def test_the_crash_checkpoint_never_falls_below_the_images_that_arrived(tmp_path) -> None:
    # What a restart would settle from: the billed checkpoint, written as images arrive and again
    # at the gateway's last word. That last word (0) must not pull it below the three that came.
    written: list[int] = []
    model = build_catalog(get_preset("aiearth")).model("doubao-seedream-5-0-260128").with_price(PRICE)
    async with open_storage(f"sqlite:///{tmp_path / 'b.db'}") as storage, aiohttp.ClientSession() as http:
        record_billed = storage.ledger.record_billed

        async def spy(request_id: int, billed: int) -> None:
            written.append(billed)
            await record_billed(request_id, billed)

        storage.ledger.record_billed = spy  # type: ignore[method-assign]

        async def limits(job) -> Limits:
            return Limits(None, None, None)

        pipeline = Pipeline(client=UnderCounting(), ledger=storage.ledger, http=http, limits=limits,
                            options=PipelineOptions())  # fmt: skip
        job = ImageJob(command="series", guild_id=1, channel_id=2, user_id=3, locale="en-US", prompt="x",
                       model=model, count=3, series=True)  # fmt: skip
        ticket = await pipeline.admit(job)
        await pipeline.execute(ticket, Status(ticket))
        [row] = await storage.db.fetchall("SELECT images_billed, images_delivered FROM requests")
    assert tuple(row) == (3, 3)
    assert written and written[-1] == 3 and min(written) >= 1, written
