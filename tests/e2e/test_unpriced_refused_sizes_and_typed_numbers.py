"""Costs without a price, sizes a gateway refuses, image numbers as typed and several bad
references: what members read, end to end."""

from __future__ import annotations

import re

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import is_ephemeral
from tests.e2e.test_queue import FAST, content
from tests.e2e.test_references_named_as_attached import png
from tests.e2e.test_result_buttons import _reference_bytes, press, result_message

# Ark's own words when it refuses a size (400 InvalidParameter naming `size`), as gogogotoken.ai
# answers for sizes under 3,686,400 pixels (a rule a custom catalog may not know).
ARK_SIZE_REFUSAL = (
    "The parameter `size` specified in the request is not valid: "
    "image size must be at least 3686400 pixels."
)


def _sizes_offered(text: str) -> str:
    """The part of the refusal after "<model> takes" / "支持的尺寸：": the sizes offered instead."""
    found = re.search(r"(?:takes|支持的尺寸：)(.*)$", text, re.S)
    assert found is not None, text
    return found.group(1)


async def test_a_size_the_gateway_refuses_is_not_offered_back_as_an_allowed_size(tmp_path):
    # A size the gateway refuses is told with the sizes the model takes as the catalog knows them,
    # but never the refused one, neither among them nor as their example ("e.g. 2048x2048" when the
    # bot's default 2048x2048 was refused): the member would retry it. Chinese likewise.
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        seen = []
        for options, locale in (
            ({"prompt": "a lighthouse at dusk", "size": "1K"}, "en-US"),
            ({"prompt": "灯塔", "size": "1K"}, "zh-CN"),
            ({"prompt": "a lighthouse at dusk"}, "en-US"),  # no size typed: the bot's default
        ):
            w.gateway.script(Fault.status(400, "InvalidParameter", ARK_SIZE_REFUSAL, param="size"))
            inter = await w.run("imagine", options, locale=locale)
            refused = w.gateway.generation_requests[-1].json["size"]
            text = inter.all_text()
            assert f"refused {refused}" in text or f"拒绝了 {refused}" in text, text
            offered = _sizes_offered(text)
            seen.append((refused, offered))
        contradicted = [(refused, offered) for refused, offered in seen
                        if re.search(rf"(?<![\dx]){re.escape(refused)}(?![\dx])", offered)]
        assert contradicted == [], (
            f"the size the gateway just refused is offered back as one the model takes: {contradicted}")
        assert all(row["status"] == "released" and row["charged_micros"] == 0 for row in await w.ledger_rows())


async def test_history_does_not_show_an_unpriced_image_as_free(tmp_path):
    # On a gateway without a price (aiearth; README step 2 asks for no IMAGE_PRICES) the result
    # reads "cost not known"; /history said "$0.00" for the same request, free. It says not known.
    async with world(tmp_path, flavour="aiearth") as w:
        done = await w.run("imagine", {"prompt": "a fox"})
        assert "cost not known" in done.all_text(), done.all_text()
        history = (await w.run("history", {}, user=w.alice)).all_text()
        [line] = [line for line in history.splitlines() if line.startswith("`#")]
        assert "$0.00" not in line, f"/history calls the unpriced image free: {line}"
        assert "not known" in line, line


async def test_a_series_stopped_by_a_restart_on_an_unpriced_gateway_does_not_say_it_cost_nothing(tmp_path):
    # A /series on aiearth (no price set) stopped by a restart after its first image was told "you
    # were charged $0.00 for them": free, where every other place says the cost is not known.
    gateway = {"per_image_latency": 30}  # the first image comes at once, the second never in time
    async with world(tmp_path, flavour="aiearth", gateway=gateway, **FAST) as w:
        series = await w.discord.invoke_command(
            "series", {"prompt": "four seasons", "count": 4}, user=w.alice, guild=w.guild, channel=w.channel
        )
        await series.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=15)
        await w.bot.shutdown(grace=0.2)
        told = content(await series.wait_for(lambda e: "this request was stopped" in content(e), timeout=5))
        assert "1 of 4 images reached you" in told, told
        assert "charged $0.00" not in told, f"an unpriced series is told it cost nothing: {told}"


async def test_the_variation_form_of_a_twelve_image_series_lets_a_chinese_member_type_the_number(tmp_path):
    # The number is read from "第十二张" / "第12张", the answer the Chinese label ("第几张图片（1 到 12）")
    # invites; the form's field took 3 characters, so Discord's client stopped at "第12".
    async with world(tmp_path, flavour="aiearth") as w:
        series = await w.run("series", {"prompt": "twelve foxes", "count": 12}, timeout=30)
        assert len(series.files()) == 12, series.all_text()
        request_id = (await w.ledger_rows())[-1]["id"]
        opened = await press(w, result_message(series), "variation", request_id, locale="zh-CN")
        [field] = [c for row in opened.modal["components"] for c in row["components"] if c["custom_id"] == "image"]
        assert "1 到 12" in field["label"], field
        assert field.get("max_length", 4000) >= len("第十二张"), (
            f"the form asks {field['label']!r} but takes {field['max_length']} characters: 第12张 cannot be typed")


async def test_variation_takes_a_number_with_zhang_tu_as_a_chinese_member_types_it(tmp_path):
    # "3张图" ("picture no. 3") was refused naming 1 to 3: the word for picture after 张 was left in
    # the number. 张图 / 号图 / 图3 are read as the number they hold.
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "three foxes", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        posted = [data for _name, data in sorted(first.files())]
        opened = await press(w, result_message(first), "variation", request_id, locale="zh-CN")
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {"prompt": "夜晚的三只狐狸", "image": "3张图"}, user=w.alice,
            from_interaction=opened, locale="zh-CN",
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15)
        assert len(submitted.files()) == 1, f"3张图 was refused: {submitted.all_text()}"
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == posted[2]


async def test_several_bad_references_with_long_names_are_all_named_in_chinese(tmp_path):
    # Four bad images in /edit, long Chinese file names, zh-CN member:
    # one private answer within Discord's 2000 characters naming 第 1..4 张 by their options.
    async with world(tmp_path, flavour="aiearth") as w:
        names = [("照片" * 300) + f"-{i}.png" for i in range(4)]  # 606 characters each: shortened to fit
        options = {"prompt": "更亮", "image": png((10, 10), name=names[0]), "image2": png((20, 400), name=names[1]),
                   "image3": png((10, 10), name=names[2]), "image4": png((10, 10), name=names[3])}
        inter = await w.run("edit", options, locale="zh-CN")
        text = inter.all_text()
        assert is_ephemeral(inter) and len(text) <= 2000, len(text)
        assert [line[:8] for line in text.splitlines()] == [f"第 {n} 张图片（" for n in range(1, 5)], text
        assert all(f"-{i}.png" in text or "…`" in line for i, line in enumerate(text.splitlines())), text
        assert "宽高比" in text.splitlines()[1], text
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []
