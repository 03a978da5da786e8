"""The one-image refusal with any count, images made before a price was set in /spend and
/history, the /spend chart's label fallback, /usage's "(no limit)"."""

from __future__ import annotations

from decimal import Decimal

import pipeline.report_chart as report_chart
from tests.e2e.harness import world
from tests.e2e.staff import add_staff
from tests.e2e.test_admin_quotas import server

SEEDREAM_5 = "doubao-seedream-5-0-260128"


async def test_two_images_when_even_one_is_over_the_monthly_limit_does_not_say_ask_for_fewer(tmp_path):
    # Alice's monthly limit is $0.10; one Seedream 4.0 image costs $0.162. Asking for two she read
    # "Ask for fewer images or a cheaper model", and asking for one was refused again: the one-image
    # wording is chosen whenever one image alone is over the limit, whatever the count.
    async with world(tmp_path, default_monthly_usd="0.10", default_daily_images=20) as w:
        one = (await w.run("imagine", {"prompt": "a heron"})).all_text()
        assert "One image of this model costs" in one, one  # the 81ba9ac wording for count=1
        two = (await w.run("imagine", {"prompt": "a heron", "count": 2})).all_text()
        assert "fewer images" not in two, (
            f"the member is told to ask for fewer images, though even one is over her limit: {two!r}")


async def test_spend_and_history_do_not_call_images_made_before_a_price_was_set_free(tmp_path):
    # aiearth publishes no price; the operator runs without one for a while (the result, /history
    # and /spend say "cost not known"), then sets IMAGE_PRICES and restarts. The ledger kept those
    # images at $0; judged by today's catalog they read "$0.00", free. Only a model priced at $0
    # on purpose makes $0 images free (a model removed from the catalog since: not known either).
    async with server(tmp_path, flavour="aiearth") as w:
        await w.start_bot()
        made = (await w.run("imagine", {"prompt": "a cat", "model": SEEDREAM_5})).all_text()
        assert "not known" in made, made
        w.settings = w.settings.model_copy(update={"image_prices": {SEEDREAM_5: Decimal("0.035")}})
        await w.restart_bot()
        history = (await w.run("history", {})).all_text()
        report = (await w.run("spend", {}, user=w.admin, timeout=30)).all_text()
        line = [x for x in history.splitlines() if x.endswith("· a cat")]
        assert line and "not known" in line[0], f"/history: {history!r}"
        assert "not known" in report or "without a price" in report, f"/spend: {report!r}"


async def test_spend_chart_legend_keeps_a_member_whose_username_starts_with_an_underscore(tmp_path):
    # A member shown as "小凯" with the username "_kai" (Discord allows usernames starting with
    # "_"). On a machine without a CJK font the chart falls back to the username; matplotlib leaves
    # out of the legend every label that starts with "_": the bar had no name.
    captured: list[list[str]] = []
    draw = report_chart.draw_chart

    def spying(*args, **kwargs):
        figure = draw(*args, **kwargs)
        legend = figure.axes[0].get_legend()
        captured.append([text.get_text() for text in legend.get_texts()] if legend else [])
        return figure

    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        kai = w.discord.add_user("_kai", global_name="小凯")
        w.discord.add_member(w.guild, kai)
        await w.start_bot()
        report_chart.draw_chart = spying
        try:
            for user in (w.alice, kai):
                done = await w.run("imagine", {"prompt": "a cat"}, user=user)
                assert len(done.files()) == 1, done.all_text()
            spend = await w.run("spend", {"chart_by": "member"}, user=staff.admin, timeout=30)
        finally:
            report_chart.draw_chart = draw
        assert captured, spend.all_text()
        assert len(captured[0]) == 2, f"legend entries for two members' bars: {captured[0]!r}"


async def test_usage_says_no_limit_for_an_unlimited_member_in_both_languages(tmp_path):
    # No limits configured: /usage reads "Images today: 1 (no limit)" and
    # "今日图片：1（不限）", not "1 of unlimited".
    async with world(tmp_path) as w:
        await w.run("imagine", {"prompt": "a cat"})
        en = (await w.run("usage", {})).all_text()
        zh = (await w.run("usage", {}, locale="zh-CN")).all_text()
        assert "Images today: 1 (no limit)" in en and "Spent this month: $0.162 (no limit)" in en, en
        assert "今日图片：1（不限）" in zh, zh
