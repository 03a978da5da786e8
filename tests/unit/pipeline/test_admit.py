"""Admission: a request stopped while its reservation is being written leaves nothing pending."""

from __future__ import annotations

import asyncio

import aiohttp

from image_gateway.presets import build_catalog, get_preset
from pipeline.job import ImageJob
from pipeline.runner import Pipeline, PipelineOptions
from storage import Limits, open_storage


async def test_a_request_stopped_while_reserving_does_not_hold_the_quota(tmp_path) -> None:
    preset = build_catalog(get_preset("gogogotoken-com"))
    model = preset.model(preset.default_model)
    async with open_storage(f"sqlite:///{tmp_path / 'bot.db'}") as storage, aiohttp.ClientSession() as http:
        ledger = storage.ledger
        entered, proceed = asyncio.Event(), asyncio.Event()
        real_reserve = ledger.reserve

        async def slow_reserve(*args, **kwargs):  # the stop arrives while the write is in flight
            entered.set()
            await proceed.wait()
            return await real_reserve(*args, **kwargs)

        ledger.reserve = slow_reserve  # type: ignore[method-assign]

        async def limits(job: ImageJob) -> Limits:
            return Limits(daily_images=1, monthly_micros=None, guild_monthly_micros=None)

        pipeline = Pipeline(client=None, ledger=ledger, http=http, limits=limits, options=PipelineOptions())  # type: ignore[arg-type]
        job = ImageJob(
            command="imagine", guild_id=1, channel_id=2, user_id=3, locale="en-US", prompt="a cat", model=model
        )
        admitting = asyncio.create_task(pipeline.admit(job))
        await entered.wait()
        admitting.cancel()
        proceed.set()  # ... and the reservation commits after all
        try:
            await admitting
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("admit should have been cancelled")
        async with asyncio.timeout(5):  # the row is written, then released
            while not (rows := await storage.db.fetchall("SELECT status, error_code FROM requests")) or any(
                r[0] == "pending" for r in rows
            ):
                await asyncio.sleep(0.01)
        [row] = rows
        assert tuple(row) == ("released", "cancelled")
        # The member's one image a day is still theirs.
        ledger.reserve = real_reserve  # type: ignore[method-assign]
        assert (await pipeline.admit(job)).request_id
