"""A settle the database refuses after delivery (a full disk): retried in the background, with
checkpoints a restart settles from, and one last try when the bot stops."""

from __future__ import annotations

import asyncio
import base64
import io
import sqlite3

import aiohttp
from PIL import Image

from image_gateway.client import Completed, GeneratedImage
from image_gateway.presets import build_catalog, get_preset
from pipeline.interrupted import interrupted_text
from pipeline.job import ImageJob
from pipeline.runner import Pipeline, PipelineOptions
from storage import Limits, open_storage

PRICE = 135_000


def jpeg() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode()


class OneImage:
    async def events(self, request):
        yield GeneratedImage(0, None, jpeg(), "64x64")
        yield Completed(1)


class FinalSink:
    """A sink that posts a single batch with its summary (as InteractionSink/ChannelSink do)."""

    upload_limit = 10 * 1024 * 1024

    def __init__(self) -> None:
        self.shown = []

    async def post(self, images) -> None:
        raise AssertionError("a single batch goes out with post_final")

    async def post_final(self, images, outcome) -> None:
        self.shown.append(outcome)

    async def finish(self, outcome) -> None:
        self.shown.append(outcome)

    async def fail(self, error) -> None:
        raise AssertionError(f"told as a failure: {error!r}")


async def admitted_one_image(storage, http) -> tuple[Pipeline, object]:
    """A pipeline whose gateway makes one image, and a request for it admitted (reserved)."""
    model = build_catalog(get_preset("aiearth")).model("doubao-seedream-5-0-260128").with_price(PRICE)

    async def limits(job) -> Limits:
        return Limits(None, None, None)

    pipeline = Pipeline(client=OneImage(), ledger=storage.ledger, http=http, limits=limits,  # type: ignore[arg-type]
                        options=PipelineOptions())  # fmt: skip
    job = ImageJob(command="imagine", guild_id=1, channel_id=2, user_id=3, locale="en-US", prompt="a cat",
                   model=model, count=1)  # fmt: skip
    return pipeline, await pipeline.admit(job)


async def test_a_restart_while_the_settle_is_retried_keeps_the_charge_shown(tmp_path, monkeypatch) -> None:
    # A single batch (post_final) writes no delivered checkpoint of its own: the fallback does.
    monkeypatch.setattr("pipeline.runner.SETTLE_RETRY_DELAYS", (3600.0,))
    async with open_storage(f"sqlite:///{tmp_path / 'bot.db'}") as storage, aiohttp.ClientSession() as http:

        async def full_disk(*args, **kwargs):
            raise sqlite3.OperationalError("database or disk is full")

        pipeline, ticket = await admitted_one_image(storage, http)
        real_settle = storage.ledger.settle
        storage.ledger.settle = full_disk  # type: ignore[method-assign]
        sink = FinalSink()
        outcome = await pipeline.execute(ticket, sink)
        assert outcome.delivered == 1 and outcome.charged_micros == PRICE  # what the member was shown
        assert sink.shown[0].charged_micros == PRICE

        # The bot stops (deploy, SIGTERM) before the next try: the retry task dies with the process.
        for task in list(pipeline._background):
            task.cancel()
        await asyncio.sleep(0)
        storage.ledger.settle = real_settle  # type: ignore[method-assign]
        await storage.ledger.recover_pending()  # the next start
        [row] = await storage.db.fetchall("SELECT status, images_delivered, charged_micros FROM requests")
        recovered = await storage.requests.get(ticket.request_id)
    assert tuple(row) == ("settled", 1, PRICE)
    assert "$0.135" in interrupted_text(recovered, "en-US")  # what reached them, and what they paid


async def test_a_settle_still_being_retried_gets_one_last_try_when_the_bot_stops(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("pipeline.runner.SETTLE_RETRY_DELAYS", (3600.0,))
    async with open_storage(f"sqlite:///{tmp_path / 'bot.db'}") as storage, aiohttp.ClientSession() as http:
        refusals = []

        async def full_disk_once(*args, **kwargs):
            if not refusals:
                refusals.append(1)
                raise sqlite3.OperationalError("database or disk is full")
            return await real_settle(*args, **kwargs)

        pipeline, ticket = await admitted_one_image(storage, http)
        real_settle = storage.ledger.settle
        storage.ledger.settle = full_disk_once  # type: ignore[method-assign]
        await pipeline.execute(ticket, FinalSink())
        await pipeline.close()  # the stop, an hour before the next retry
        [row] = await storage.db.fetchall("SELECT status, error_code, images_delivered FROM requests")
    assert tuple(row) == ("settled", None, 1)
