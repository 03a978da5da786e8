"""/series end to end: sequential generation, streamed and posted as each image arrives."""

from __future__ import annotations

import asyncio
import base64
import re
from decimal import Decimal

import pytest

from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.test_edit import image_bytes, sent_images
from tests.e2e.test_result_buttons import press, result_message

SEEDREAM_5 = "doubao-seedream-5-0-260128"
PRICE = {SEEDREAM_5: Decimal("0.135")}  # aiearth publishes no price: set one so charges are visible
FILE = re.compile(r"seedream-(\d+)-(\d+)\.\w+")


async def start(w, options, **kwargs):
    return await w.discord.invoke_command(
        "series", options, user=w.alice, guild=w.guild, channel=w.channel, **kwargs
    )


async def settled(w, timeout: float = 20.0) -> dict:
    """The ledger row once the request is closed (the books close before the summary is posted)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        rows = await w.ledger_rows()
        if rows and rows[-1]["status"] != "pending":
            return rows[-1]
        await asyncio.sleep(0.05)
    raise TimeoutError("the request was never settled")


def image_numbers(messages) -> list[list[int]]:
    """Per message, the 1-based image numbers of its attachments (from the file names)."""
    return [
        [int(FILE.fullmatch(a["filename"])[2]) for a in msg.get("attachments", [])]
        for msg in messages if msg.get("attachments")
    ]  # fmt: skip


async def test_a_streamed_series_posts_the_first_image_before_the_last_is_made(tmp_path):
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.4}, image_prices=PRICE) as w:
        inter = await start(w, {"prompt": "a fox's day, from dawn to night", "count": 4})
        await inter.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=15)
        assert w.gateway.images_billed == 0  # the gateway is still streaming the rest
        assert len(inter.files()) == 1
        row = await settled(w)
        await inter.wait_for_final(timeout=10)
        body = w.gateway.generation_requests[-1].json
        assert body["stream"] is True
        assert body["sequential_image_generation"] == "auto"
        assert body["sequential_image_generation_options"] == {"max_images": 4}
        assert body["prompt"] == "a fox's day, from dawn to night. Generate 4 images as a series."
        numbers = image_numbers(inter.messages)
        assert [n for message in numbers for n in message] == [1, 2, 3, 4]  # all, in order
        assert len(numbers) >= 2  # posted as they came, not all at the end
        assert "a fox's day" in inter.all_text() and "Generate 4" not in inter.all_text()
        assert (row["images_requested"], row["images_delivered"], row["cost_micros"]) == (4, 4, 540_000)


async def test_a_series_of_15_is_split_into_messages_of_at_most_10_in_order(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await start(w, {"prompt": "15 frames of a bouncing ball", "count": 15})
        row = await settled(w)
        await inter.wait_for_final(timeout=15)
        numbers = image_numbers(inter.messages)
        assert numbers == [list(range(1, 11)), list(range(11, 16))]
        assert all(len(m["attachments"]) <= 10 for m in inter.messages)
        body = w.gateway.generation_requests[-1].json
        assert body["prompt"] == "15 frames of a bouncing ball"  # already says how many
        assert body["sequential_image_generation_options"] == {"max_images": 15}
        assert row["reserved_micros"] == 15 * 162_000
        assert (row["images_delivered"], row["cost_micros"]) == (15, 15 * 162_000)


async def test_a_streamed_series_with_refused_images_charges_only_the_successes(tmp_path):
    async with world(tmp_path, flavour="aiearth", image_prices=PRICE) as w:
        w.gateway.script(Fault.partial(failed=(2, 5)))
        inter = await start(w, {"prompt": "eight postcards of Kyoto", "count": 8})
        row = await settled(w)
        await inter.wait_for_final(timeout=10)
        assert w.gateway.generation_requests[-1].json["stream"] is True
        assert len(inter.files()) == 6
        assert "2 of 8 were refused by the content filter" in inter.all_text()
        assert (row["images_billed"], row["images_delivered"]) == (6, 6)
        assert (row["cost_micros"], row["charged_micros"]) == (6 * 135_000, 6 * 135_000)
        assert "$0.81" in inter.all_text()


async def test_a_gateway_that_does_not_stream_falls_back_to_json_unnoticed(tmp_path):
    gateway = {"stream": False}  # the preset asks for a stream; the gateway answers plain JSON
    async with world(tmp_path, flavour="aiearth", gateway=gateway, image_prices=PRICE) as w:
        inter = await start(w, {"prompt": "四季的同一棵树", "count": 4}, locale="zh-CN")
        row = await settled(w)
        await inter.wait_for_final(timeout=10)
        body = w.gateway.generation_requests[-1].json
        assert body["stream"] is True
        assert body["prompt"] == "四季的同一棵树。生成一组共 4 张图片。"  # 四季 (seasons) is not a count of images
        assert [n for m in image_numbers(inter.messages) for n in m] == [1, 2, 3, 4]
        assert (row["status"], row["images_delivered"], row["cost_micros"]) == ("settled", 4, 540_000)
        assert "4 张图片" in inter.all_text()


async def test_a_series_that_outlives_the_interaction_token_goes_on_in_the_channel(tmp_path):
    async with world(
        tmp_path, flavour="aiearth", image_prices=PRICE,
        gateway={"per_image_latency": 0.5}, discord={"token_ttl": 0.8},
    ) as w:  # fmt: skip
        inter = await start(w, {"prompt": "a sunrise in 5 steps", "count": 5})
        row = await settled(w)
        await asyncio.sleep(0.3)  # the summary follows the settlement
        in_reply = [n for m in image_numbers(inter.messages) for n in m]
        in_channel = [
            n for m in image_numbers(w.discord.channel_messages(w.channel))
            for n in m if n not in in_reply
        ]  # fmt: skip
        assert in_reply and in_channel  # some before the token expired, the rest after
        assert sorted(in_reply + in_channel) == [1, 2, 3, 4, 5]
        assert in_reply + in_channel == [1, 2, 3, 4, 5]  # in order
        assert (row["images_delivered"], row["cost_micros"]) == (5, 5 * 135_000)
        assert "a sunrise in 5 steps" in w.discord.sent_text()
        assert "Left for you" in w.discord.sent_text()


async def test_a_series_with_reference_images_sends_them_and_counts_them(tmp_path):
    png = image_bytes("PNG")
    async with world(tmp_path, flavour="aiearth", image_prices=PRICE) as w:
        inter = await start(w, {"prompt": "this character in 3 poses", "count": 3},
                            attachments=[("hero.png", png, "image/png")])
        await settled(w)
        await inter.wait_for_final(timeout=10)
        assert len(inter.files()) == 3
        [uri] = sent_images(w)
        assert base64.b64decode(uri.split(",", 1)[1]) == png
        two = [("hero.png", png, "image/png")] * 2
        refused = await start(w, {"prompt": "more poses", "count": 14}, attachments=two)
        await refused.wait_for_final(timeout=10)
        assert "2 to 13 images with 2 reference images" in refused.all_text()
        assert refused.messages[0]["flags"] & 64
        assert len(w.gateway.generation_requests) == 1


async def test_a_model_without_series_is_refused_before_anything_is_spent(tmp_path):
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await start(w, {"prompt": "a comic", "count": 3, "model": "doubao-seedream-3-0-t2i-250415"})
        await inter.wait_for_final(timeout=10)
        assert "cannot make a series" in inter.all_text()
        assert inter.messages[0]["flags"] & 64
        assert w.gateway.generation_requests == []
        assert await w.ledger_rows() == []


@pytest.mark.parametrize("fault", ["HTTP 400", "dropped connection"])
async def test_a_series_goes_on_when_discord_refuses_one_of_its_messages(tmp_path, fault):
    # Discord refuses the follow-up that carries image 2 (HTTP 400, not retried), or the
    # connection drops while it is sent: the stream is still read to its end, images 3-5 are
    # fetched and posted, and image 2 is not charged.
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.3}, image_prices=PRICE) as w:
        refused = w.discord.fail_next(1, status=400, method="POST", path=r"^/webhooks/\d+/[^/]+$", uploads_only=True)
        refused.drop = fault == "dropped connection"
        inter = await start(w, {"prompt": "a sunrise in 5 steps", "count": 5})
        row = await settled(w)
        await inter.wait_for_final(timeout=10)
        assert refused.hits == 1
        assert w.gateway.file_fetches == 5  # nothing was cut off
        assert [n for m in image_numbers(inter.messages) for n in m] == [1, 3, 4, 5]
        assert (row["images_billed"], row["images_delivered"]) == (5, 4)  # billed: the gateway's final count
        assert (row["cost_micros"], row["charged_micros"]) == (5 * 135_000, 4 * 135_000)
        assert row["error_code"] is None
        assert "1 image could not be posted (Discord refused the upload)" in inter.all_text()
        assert "cost $0.675 (you pay $0.54)" in inter.all_text()  # the server's cost and the member's
        await assert_books_balanced(w.storage)


async def test_a_series_discord_refuses_entirely_is_reported_and_not_charged(tmp_path):
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.2}, image_prices=PRICE) as w:
        refused = w.discord.fail_uploads(10, status=400)
        inter = await start(w, {"prompt": "a sunrise in 3 steps", "count": 3})
        row = await settled(w)
        await inter.wait_for_final(timeout=10)
        assert refused.hits == 3 and inter.files() == []
        assert w.gateway.file_fetches == 3
        assert "could not be posted to Discord" in inter.all_text()
        assert (row["images_billed"], row["images_delivered"]) == (3, 0)
        assert (row["cost_micros"], row["charged_micros"]) == (3 * 135_000, 0)
        assert row["error_code"] == "delivery_failed"
        await assert_books_balanced(w.storage)


async def test_a_series_cut_off_midway_sums_up_what_was_delivered_and_charged(tmp_path):
    # The stream breaks after the first image: the member keeps it, pays for it alone, and reads a
    # summary that says so, not a failure that says nothing was charged.
    async with world(tmp_path, flavour="aiearth", image_prices=PRICE) as w:
        w.gateway.script(Fault.reset())  # the connection drops after the first event
        inter = await start(w, {"prompt": "four postcards", "count": 4})
        row = await settled(w)
        await inter.wait_for_final(timeout=10, quiet=0.5)
        assert len(inter.files()) == 1
        assert (row["images_delivered"], row["charged_micros"]) == (1, 135_000)
        text = inter.all_text()
        assert "1 image · cost $0.135" in text
        assert ("The request stopped before all 4 images were made; "
                "you were charged only for the images you got.") in text
        assert "You were not charged." not in text
        await assert_books_balanced(w.storage)


async def test_a_stream_that_fails_as_a_whole_is_told_as_that_failure_not_as_a_lost_image(tmp_path):
    # An "error" event naming no image (SEEDREAM-API.md has partial_failed for one image): the
    # account is overdue. Told and recorded as the same 403 without a stream would be.
    async with world(tmp_path, flavour="xmsmartlink") as w:
        w.gateway.script(Fault.stream_error("AccountOverdueError"))
        inter = await start(w, {"prompt": "a day of a fox", "count": 4})
        row = await settled(w)
        await inter.wait_for_final(timeout=10)
        assert "A server admin must check the bot" in inter.all_text(), inter.all_text()
        assert (row["status"], row["error_code"], row["cost_micros"]) == ("released", "AccountOverdueError", 0)
        assert [line for line in w.logs.lines if "AccountOverdueError" in line]


async def test_a_stream_that_fails_midway_stops_the_series_and_charges_what_arrived(tmp_path):
    async with world(tmp_path, flavour="aiearth", image_prices={"doubao-seedream-5-0-260128": "0.135"}) as w:
        w.gateway.script(Fault.stream_error("InternalServiceError", after=2))
        inter = await start(w, {"prompt": "a day of a fox", "count": 4})
        row = await settled(w)
        await inter.wait_for_final(timeout=10)
        assert (row["images_delivered"], row["cost_micros"], row["error_code"]) == (2, 270_000, "InternalServiceError")
        assert "The request stopped before all 4 images were made" in inter.all_text(), inter.all_text()
        assert len(inter.files()) == 2


async def test_a_stream_the_content_filter_stops_midway_says_the_filter_stopped_it(tmp_path):
    # The whole answer refused after one image (an "error" event, OutputImageSensitiveContentDetected):
    # the summary used to say only that the request stopped, so the member could not tell that
    # rephrasing, not trying again, was what would help.
    async with world(tmp_path, flavour="aiearth", image_prices={"doubao-seedream-5-0-260128": "0.135"}) as w:
        w.gateway.script(Fault.stream_error("OutputImageSensitiveContentDetected", after=1))
        inter = await start(w, {"prompt": "a day of a fox", "count": 4})
        row = await settled(w)
        await inter.wait_for_final(timeout=10)
        assert (row["images_delivered"], row["cost_micros"]) == (1, 135_000)
        assert ("The content filter stopped the request before all 4 images were made; "
                "you were charged only for the images you got.") in inter.all_text(), inter.all_text()


def _image_field(modal: dict) -> dict:
    return next(c for row in modal["components"] for c in row["components"] if c["custom_id"] == "image")


async def test_the_variation_form_of_a_series_without_its_first_image_offers_the_ones_there_are(tmp_path):
    # Image 1 of 4 is refused by the content filter: the member gets images 2, 3 and 4. The form
    # offered "1 to 4" filled in with 1, and refused its own value "as there are images 1 to 4".
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.1}, image_prices=PRICE) as w:
        w.gateway.script(Fault.partial(failed=(0,)))
        series = await start(w, {"prompt": "four seasons", "count": 4})
        row = await settled(w)
        await series.wait_for_final(timeout=15, quiet=0.5)
        assert [n for m in image_numbers(series.messages) for n in m] == [2, 3, 4]
        opened = await press(w, result_message(series), "variation", row["id"])
        field = _image_field(opened.modal)
        assert field["value"] == "2" and "(2 to 4)" in field["label"], field
        shown = field["value"]
        sent = len(w.gateway.generation_requests)
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {"prompt": "winter only", "image": shown}, user=w.alice, from_interaction=opened
        )
        await submitted.wait_for_final(timeout=15)
        assert len(submitted.files()) == 1, submitted.all_text()
        assert len(w.gateway.generation_requests) == sent + 1
        wrong = await w.discord.submit_modal(
            opened.modal["custom_id"], {"prompt": "x", "image": "1"}, user=w.alice, from_interaction=opened
        )
        await wrong.wait_for_final(timeout=15)
        assert "This result has images 2 to 4" in wrong.all_text(), wrong.all_text()


async def test_history_of_a_series_the_content_filter_refused_entirely_says_content_filter(tmp_path):
    # Every image of the series refused by the content filter: the ledger and /history say so, as
    # for a refused /imagine (they said "nothing generated (the service made none)").
    for flavour in ("gogogotoken-com", "aiearth"):  # plain JSON and streamed
        async with world(tmp_path / flavour, flavour=flavour, image_prices=PRICE) as w:
            w.gateway.script(Fault.partial(failed=(0, 1, 2)))
            inter = await start(w, {"prompt": "three postcards", "count": 3})
            row = await settled(w)
            await inter.wait_for_final(timeout=10, quiet=0.5)
            # told privately, as a refused /imagine is: the public "thinking" reply goes
            assert "The content filter refused this request" in inter.all_text(), inter.all_text()
            assert "original_delete" in inter.kinds(), inter.kinds()
            assert (row["status"], row["cost_micros"]) == ("released", 0)
            history = (await w.run("history", {})).all_text()
            assert "content filter" in history, history
            assert row["error_code"] == "OutputImageSensitiveContentDetected", row["error_code"]
