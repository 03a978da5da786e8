"""Graceful shutdown end to end: what can finish finishes; the rest is released and its members told."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.doubles.discord_double.cdn import AttachmentStore
from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.test_edit import image_bytes
from tests.e2e.test_queue import FAST, content, submit

SEEDREAM_5 = "doubao-seedream-5-0-260128"


async def rows_by_prompt(w) -> dict[str, dict]:
    return {row["prompt"]: row for row in await w.ledger_rows()}


async def test_shutdown_lets_a_running_request_finish_within_the_grace(tmp_path):
    async with world(tmp_path, gateway={"latency": 0.5}, **FAST) as w:
        running = await submit(w, w.alice, "a lighthouse")
        await w.bot.shutdown(grace=10)
        assert w.bot.is_closed()
        assert len(running.files()) == 1
        assert "stopped" not in running.all_text()
        row = (await rows_by_prompt(w))["a lighthouse"]
        assert (row["status"], row["images_delivered"], row["charged_micros"]) == ("settled", 1, 162_000)


async def test_shutdown_releases_what_cannot_finish_and_tells_every_member(tmp_path):
    async with world(tmp_path, max_concurrent_requests=1, **FAST) as w:
        w.gateway.script(Fault.hang(), times=1)
        running = await submit(w, w.alice, "never answered")
        waiting = await submit(w, w.bob, "still in line")
        stopping = asyncio.create_task(w.bot.shutdown(grace=1.0))
        await asyncio.sleep(0)  # the queue closes at once; running requests get the grace

        late = await w.run("imagine", {"prompt": "too late"}, user=w.bob)
        assert late.all_text() == "The bot is restarting; please try again in a minute."
        assert late.callback_data["flags"] & 64  # only bob sees it

        await stopping
        assert "this request was stopped" in running.all_text()
        assert "You were not charged for images you did not get" in running.all_text()
        assert "withdrawn before it started" in waiting.all_text()
        assert running.files() == [] and waiting.files() == []
        rows = await rows_by_prompt(w)
        assert set(rows) == {"never answered", "still in line"}  # nothing reserved for the late one
        assert [(r["status"], r["charged_micros"]) for r in rows.values()] == [("released", 0)] * 2
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["never answered"]


async def test_a_stopped_series_is_charged_only_for_the_images_delivered(tmp_path):
    gateway = {"per_image_latency": 30}  # the first image comes at once, the second never in time
    async with world(tmp_path, flavour="aiearth", gateway=gateway, image_prices={SEEDREAM_5: Decimal("0.135")},
                     **FAST) as w:
        series = await w.discord.invoke_command(
            "series", {"prompt": "four seasons", "count": 4}, user=w.alice, guild=w.guild, channel=w.channel
        )
        await series.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=15)
        await w.bot.shutdown(grace=0.2)
        told = await series.wait_for(lambda e: "this request was stopped" in content(e), timeout=5)
        # what reached the member and what it cost them, as the notice after a crash says it
        assert "1 of 4 images reached you and you were charged $0.135 for it" in content(told)
        assert len(series.files()) == 1
        row = (await w.ledger_rows())[-1]
        assert (row["status"], row["images_delivered"], row["charged_micros"]) == ("settled", 1, 135_000)


async def test_a_withdrawn_request_whose_defer_was_refused_is_told_in_the_channel(tmp_path):
    # No reply to edit (Discord refused the "thinking..." defer): the member still hears why
    # the request went away, in the channel, as its results would have come.
    async with world(tmp_path, max_concurrent_requests=1, **FAST) as w:
        w.gateway.script(Fault.hang(), times=1)
        await submit(w, w.alice, "never answered")
        refused = w.discord.fail_next(
            1, status=404, method="POST", path="/callback$", body={"code": 10062, "message": "Unknown interaction"}
        )
        waiting = await w.discord.invoke_command(
            "imagine", {"prompt": "still in line"}, user=w.bob, guild=w.guild, channel=w.channel
        )
        async with asyncio.timeout(10):
            while refused.hits == 0 or "still in line" not in await rows_by_prompt(w):
                await asyncio.sleep(0.02)
        await w.bot.shutdown(grace=0.5)

        assert waiting.files() == [] and waiting.all_text() == ""
        told = [m["content"] for m in w.discord.channel_messages(w.channel) if f"<@{w.bob.id}>" in m["content"]]
        assert told == [f"<@{w.bob.id}> The bot is restarting, so this request was withdrawn before it started. "
                        "You were not charged; please try again in a minute."]
        row = (await rows_by_prompt(w))["still in line"]
        assert (row["status"], row["charged_micros"]) == ("released", 0)


async def test_a_shutdown_that_stops_a_request_as_it_settles_still_closes_its_books(tmp_path, monkeypatch):
    # The images are posted; the settle waits behind other writes when the grace runs out. The
    # stop must not cut it off: the row would stay pending and the restart would count the two
    # delivered images as never delivered.
    from storage.ledger import SqliteLedger  # noqa: PLC0415 - only this test slows it down

    real_settle = SqliteLedger.settle

    async def busy_settle(self, *args, **kwargs):
        await asyncio.sleep(0.5)
        return await real_settle(self, *args, **kwargs)

    monkeypatch.setattr(SqliteLedger, "settle", busy_settle)
    async with world(tmp_path, default_daily_images=4) as w:
        inter = await w.discord.invoke_command("imagine", {"prompt": "a cat", "count": 2}, user=w.alice,
                                               guild=w.guild, channel=w.channel)
        await inter.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=15)
        await w.bot.shutdown(grace=0)
        [row] = await w.ledger_rows()
        assert (row["status"], row["images_delivered"], row["charged_micros"]) == ("settled", 2, 2 * 162_000)
        assert len(inter.files()) == 2


def held_downloads(monkeypatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Attachment downloads from the Discord double's CDN wait for `release` (the second event);
    `fetching` (the first) is set when one starts: an /edit held while its images download."""
    real_handle = AttachmentStore.handle
    fetching, release = asyncio.Event(), asyncio.Event()

    async def slow_cdn(self, request):
        fetching.set()
        await release.wait()
        return await real_handle(self, request)

    monkeypatch.setattr(AttachmentStore, "handle", slow_cdn)
    return fetching, release


async def test_a_shutdown_stops_an_edit_still_downloading_its_images_at_once_and_says_so(tmp_path, monkeypatch):
    # Nothing is reserved while the references download, and it could not be admitted after the
    # stop: it need not hold the stop for the grace (and the stop wait) on a slow CDN.
    fetching, release = held_downloads(monkeypatch)
    async with world(tmp_path, **FAST) as w:
        try:
            inter = await w.discord.invoke_command("edit", {"prompt": "a hat"}, user=w.alice, guild=w.guild,
                                                   channel=w.channel,
                                                   attachments=[("cat.png", image_bytes(), "image/png")])
            await asyncio.wait_for(fetching.wait(), 10)
            started = asyncio.get_running_loop().time()
            await w.bot.shutdown(grace=30)
            assert asyncio.get_running_loop().time() - started < 10  # not the 30 s grace
            assert "The bot is restarting" in inter.all_text() and not inter.loading
            assert await w.ledger_rows() == [] and w.gateway.generation_requests == []
        finally:
            release.set()


async def test_members_waiting_past_their_replys_lifetime_are_told_of_a_shutdown_in_the_channel(tmp_path):
    # Their replies can no longer be edited (Discord's 15 minutes; 3 s here): the channel says it.
    async with world(tmp_path, discord={"token_ttl": 3}, max_concurrent_requests=1, **FAST) as w:
        carol = w.discord.add_user("carol")
        w.discord.add_member(w.guild, carol)
        w.gateway.script(Fault.hang(), times=1)
        for user in (w.alice, w.bob, carol):
            await submit(w, user, f"{user.username}'s picture")
        await asyncio.sleep(3.5)
        await w.bot.shutdown(grace=0.5)
        assert [r["status"] for r in await w.ledger_rows()] == ["released"] * 3
        said = [m.get("content") or "" for m in w.discord.channel_messages(w.channel)]
        for user in (w.bob, carol):  # the two waiting in line
            assert [text for text in said if f"<@{user.id}>" in text and "restart" in text], said
