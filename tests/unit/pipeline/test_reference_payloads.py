"""Reference images reach the request when its turn comes, made in a worker thread, not at admission."""

from __future__ import annotations

import aiohttp

from image_gateway.presets import build_catalog, get_preset
from pipeline.job import ImageJob, Reference
from pipeline.runner import Pipeline, PipelineOptions
from storage import Limits, open_storage


async def test_a_waiting_request_holds_no_data_uri_and_gets_them_at_its_turn(tmp_path) -> None:
    preset = build_catalog(get_preset("gogogotoken-com"))
    model = preset.model(preset.default_model)

    async def limits(job: ImageJob) -> Limits:
        return Limits(daily_images=None, monthly_micros=None, guild_monthly_micros=None)

    references = [
        Reference("a.png", "https://cdn.discordapp.com/attachments/1/2/a.png", b"\x89PNG-a", "png"),
        Reference("b.gif", "https://cdn.discordapp.com/attachments/1/2/b.gif", b"GIF89a-b", "png", converted=True),
    ]
    async with open_storage(f"sqlite:///{tmp_path / 'bot.db'}") as storage, aiohttp.ClientSession() as http:
        for references_as, first in (("data_uri", "data:image/png;base64,iVBORy1h"), ("url", references[0].url)):
            pipeline = Pipeline(client=None, ledger=storage.ledger, http=http, limits=limits,  # type: ignore[arg-type]
                                options=PipelineOptions(references_as=references_as))  # fmt: skip
            job = ImageJob(command="edit", guild_id=1, channel_id=2, user_id=3, locale="en-US", prompt="brighter",
                           model=model, references=references)  # fmt: skip
            ticket = await pipeline.admit(job)
            assert ticket.request.images == []  # nothing built nor held while it waits in line
            request = await pipeline._with_references(ticket)
            assert request.images == [first, "data:image/png;base64,R0lGODlhLWI="]  # a converted one: its bytes
            assert (request.prompt, request.model) == (ticket.request.prompt, model)
