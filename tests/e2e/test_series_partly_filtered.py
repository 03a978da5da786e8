"""/series with the content filter refusing an image in the middle, with a daily limit and a budget
warning: the captions, the member's charge, /usage, /spend and the warning tell the same story."""

from __future__ import annotations

import re
from decimal import Decimal

from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.staff import eventually
from tests.e2e.test_approval import approval_world, channel_text
from tests.e2e.test_approval_queue import approve, ask
from tests.e2e.test_series import settled, start

FILE = re.compile(r"seedream-\d+-(\d+)\.\w+")


def captions_and_files(messages) -> list[tuple[str, list[int]]]:
    """(the first line of each message with images, the numbers of its images)."""
    out = []
    for message in messages:
        files = [int(FILE.fullmatch(a["filename"])[1]) for a in message.get("attachments") or []]
        if files:
            out.append(((message.get("content") or "").split("\n")[0], files))
    return out


async def test_a_series_caption_does_not_count_an_image_the_content_filter_refused(tmp_path):
    # A streamed /series of 4 (aiearth); the content filter refuses image 3. Image 1 is posted as it
    # arrives; images 2 and 4, which came while that upload was on its way, go in the next
    # message. It was captioned "Images 2–4 of 4": three images, image 3 among them, over two files,
    # while the summary said one was refused. The caption names the images it carries.
    price = {"doubao-seedream-5-0-260128": Decimal("0.135")}
    async with world(tmp_path, flavour="aiearth", image_prices=price, default_daily_images=4) as w:
        w.gateway.script(Fault.partial(failed=(2,)))
        first_upload = w.discord.fail_next(1, status=None, uploads_only=True)  # held: a slow upload
        inter = await start(w, {"prompt": "four postcards", "count": 4})
        await eventually(lambda: w.gateway.images_billed == 3)  # the whole stream is in meanwhile
        first_upload.release()
        row = await settled(w)
        await inter.wait_for_final(timeout=15, quiet=0.5)
        assert (row["images_billed"], row["images_delivered"], row["charged_micros"]) == (3, 3, 3 * 135_000)
        assert "1 of 4 were refused by the content filter" in inter.all_text()
        shown = captions_and_files(inter.messages)
        assert [files for _, files in shown] == [[1], [2, 4]], shown
        assert shown[1][0] == "Images 2, 4 of 4: **four postcards**", shown


async def test_an_approved_series_partly_filtered_the_warning_charge_usage_and_spend_agree(tmp_path):
    # Approval mode, a $1 budget warning at 30% in the moderators' channel, daily
    # limit 4: an approved /series of 4 (Seedream 5.0 Lite at $0.135) with image 2 refused by the
    # content filter. Server and member pay 3 images ($0.405); the warning says $0.405, once;
    # /usage, /budget show and /spend say the same; nothing pending.
    price = {"doubao-seedream-5-0-260128": Decimal("0.135")}
    async with world(tmp_path, start=False, flavour="aiearth", image_prices=price, default_daily_images=4) as w:
        staff = await approval_world(w)
        await w.run("budget", {"amount": "1", "warn_percent": 30}, user=staff.admin, subcommand="set")
        w.gateway.script(Fault.partial(failed=(1,)))
        await ask(w, w.alice, "four postcards", command="series", count=4)
        pressed = await approve(w, staff, "four postcards")
        await pressed.wait_for_final()
        await eventually(lambda: "cost $0.405" in channel_text(w), timeout=20)
        assert "1 of 4 were refused by the content filter and not charged." in channel_text(w)
        assert "Left for you: 1 image today. The server's budget has $0.595 left this month." in channel_text(w)
        mods = lambda: [m["content"] for m in w.discord.channel_messages(staff.mods_channel)  # noqa: E731
                        if m["content"].startswith("⚠️")]  # fmt: skip
        await eventually(lambda: len(mods()) == 1)
        assert "spent $0.405 of its monthly image budget of $1.00" in mods()[0]
        usage = (await w.run("usage", {})).all_text()
        assert "Images today: 3 of 4" in usage and "Spent this month: $0.405" in usage, usage
        assert "Server budget left this month: $0.595 of $1.00" in usage, usage
        shown = (await w.run("budget", {}, user=staff.admin, subcommand="show")).all_text()
        assert "Spent this month: $0.405, left: $0.595" in shown, shown
        spend = (await w.run("spend", {}, user=staff.admin)).all_text()
        assert "Total spend: $0.405 (charged to members for delivered images: $0.405)" in spend, spend
        assert "Images billed: 3, delivered: 3" in spend, spend
        rows = await assert_books_balanced(w.storage)
        assert [(r["status"], r["cost_micros"], r["charged_micros"]) for r in rows] == [("settled", 405_000, 405_000)]
