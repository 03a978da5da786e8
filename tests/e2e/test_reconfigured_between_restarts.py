"""An operator changes the configuration between restarts while the database keeps its history:
another gateway, a narrower catalog, other prices, REFERENCE_IMAGES_AS, an older database. What
members, moderators and owners see after, and that old rows keep their money exactly."""

from __future__ import annotations

from datetime import timedelta

from storage.models import RequestRecord, utc_now
from tests.doubles.image_gateway_double.models import FLAVOURS
from tests.e2e.harness import make_settings, world
from tests.e2e.staff import add_staff, eventually, is_ephemeral
from tests.e2e.test_approval import button, channel_text, review_message
from tests.e2e.test_edit import image_bytes
from tests.e2e.test_midnight import UNLIMITED
from tests.e2e.test_model_choice import suggestions
from tests.e2e.test_reports import csv_rows
from tests.e2e.test_result_buttons import press, result_message

SEEDREAM_40 = "doubao-seedream-4-0-250828"
SEEDREAM_45 = "doubao-seedream-4-5-251128"


async def test_moving_from_gogogotoken_com_to_gogogotoken_ai_keeps_the_books_and_says_what_is_gone(tmp_path):
    # Everything in the database was made on gogogotoken.com ($0.135 for 4.5, $0.162 for 4.0): a
    # settled result, a refusal, a request a crash left pending, a request waiting for a moderator
    # and a server default of Seedream 4.5 at 4K. The operator moves to gogogotoken.ai, whose ids
    # differ (doubao-seedream-4-5, doubao-seedream-5-0-lite).
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"model": SEEDREAM_45, "size": "4K"}, user=staff.admin, subcommand="defaults")
        first = await w.run("imagine", {"prompt": "a castle", "count": 2})
        assert "cost $0.27" in first.all_text(), first.all_text()
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        refused = await w.run("imagine", {"prompt": "x", "size": "9K"})
        assert is_ephemeral(refused)
        crashed = RequestRecord(w.guild.id, w.channel.id, w.alice.id, "imagine", SEEDREAM_40, "2K", "cut short", 2,
                                162_000, locale="en-US")
        pending = await w.storage.ledger.reserve(crashed, limits=UNLIMITED)
        await w.storage.ledger.record_billed(pending, 2)
        await w.storage.ledger.record_delivered(pending, 1)
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin, subcommand="approval")
        await w.run("imagine", {"prompt": "a fox waiting"}, user=w.bob)

        await w.stop_bot()
        w.gateway.flavour = FLAVOURS["gogogotoken-ai"]
        w.settings = make_settings(w.tmp, w.discord, w.gateway, image_provider="gogogotoken-ai",
                                   image_prices={"doubao-seedream-5-0-lite": "0.035", "doubao-seedream-4-5": "0.04"})
        await w.start_bot()

        # the crash notice, at the reservation's price
        await eventually(lambda: "cut short" in channel_text(w))
        assert "1 of 2 images reached you and you were charged $0.162" in channel_text(w), channel_text(w)
        # the books, unchanged: /history, /usage, /spend and its CSV
        history = await w.run("history", {}, user=w.alice)
        assert is_ephemeral(history)
        assert "$0.324 (charged $0.162) · cut short" in history.all_text(), history.all_text()
        assert f"{SEEDREAM_45} · delivered 2 of 2 · $0.27 · a castle" in history.all_text()
        usage = await w.run("usage", {}, user=w.alice)
        assert "Spent this month: $0.432" in usage.all_text() and "Server spend this month: $0.594" in usage.all_text()
        report = await w.run("spend", {}, user=staff.admin, timeout=30)
        assert "Total spend: $0.594 (charged to members for delivered images: $0.432)" in report.all_text()
        assert [(r["model"], r["cost_usd"], r["charged_usd"]) for r in csv_rows(report)] == [
            (SEEDREAM_45, "0.270000", "0.270000"), (SEEDREAM_40, "0.324000", "0.162000"),
        ]
        # the server default: shown as not offered, and what requests use instead
        shown = await w.run("settings", {}, user=staff.admin, subcommand="show")
        assert f"model {SEEDREAM_45} (not offered by this gateway: requests use doubao-seedream-5-0-lite)" in \
            shown.all_text(), shown.all_text()
        # the waiting request: approved, it cannot run, and the moderator, the review and the member say why
        review = review_message(w, staff)
        approved = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await approved.wait_for_final(timeout=15)
        gone = f"`{SEEDREAM_45}` is not offered here"
        await eventually(lambda: "could not run" in channel_text(w))
        assert gone in approved.all_text() and gone in review_message(w, staff)["content"]
        assert gone in channel_text(w) and f"<@{w.bob.id}>" in channel_text(w)
        # the result's buttons: Re-roll says the model is gone, privately; the others go on
        rerolled = await press(w, message, "reroll", request_id)
        assert is_ephemeral(rerolled) and f"(`{SEEDREAM_45}`) is no longer offered here" in rerolled.all_text()
        upscale = await press(w, message, "upscale", request_id)
        assert is_ephemeral(upscale) and "Which image" in upscale.all_text(), upscale.all_text()
        assert (await press(w, message, "variation", request_id)).modal is not None
        # the model suggestions are the new gateway's
        assert await suggestions(w, "imagine", {"prompt": "a"}, "model") == [
            "doubao-seedream-5-0-lite", "doubao-seedream-4-5"]
        assert w.gateway.generation_requests[2:] == []  # nothing made after the move
        rows = await w.ledger_rows()
        assert [(r["status"], r["cost_micros"], r["charged_micros"]) for r in rows] == [
            ("settled", 270_000, 270_000), ("settled", 324_000, 162_000),
        ]


async def test_result_buttons_after_a_catalog_narrows_a_model_refuse_privately_and_charge_nothing(tmp_path):
    # aiearth: a series on Seedream 5.0 and a 1K image on Seedream 4.0. The operator's catalog then
    # turns series off for 5.0 and 1K off for 4.0 (README: "turn them off per model").
    async with world(tmp_path, flavour="aiearth") as w:
        series = await w.run("series", {"prompt": "four seasons", "count": 3}, timeout=30)
        series_id = (await w.ledger_rows())[-1]["id"]
        small = await w.run("imagine", {"prompt": "a tower", "size": "1K", "model": SEEDREAM_40})
        small_id = (await w.ledger_rows())[-1]["id"]
        catalog = tmp_path / "catalog.toml"
        catalog.write_text('[models."doubao-seedream-5-0-260128"]\nsupports_series = false\n'
                           '[models."doubao-seedream-4-0-250828"]\nsize_tiers = ["2K", "4K"]\n')
        await w.stop_bot()
        w.settings = make_settings(w.tmp, w.discord, w.gateway, model_catalog_file=catalog)
        await w.start_bot()
        calls, rows = len(w.gateway.generation_requests), len(await w.ledger_rows())
        again = await press(w, result_message(series), "reroll", series_id)
        assert is_ephemeral(again) and "cannot make a series" in again.all_text(), again.all_text()
        again = await press(w, result_message(small), "reroll", small_id)
        assert is_ephemeral(again) and "1K is not one of the sizes" in again.all_text(), again.all_text()
        assert len(w.gateway.generation_requests) == calls
        assert [r["status"] for r in await w.ledger_rows()][rows:] == []


async def test_an_edit_waiting_for_approval_runs_with_reference_urls_after_reference_images_as_changes(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin, subcommand="approval")
        await w.run("edit", {"prompt": "brighter"}, attachments=[("p.webp", image_bytes("WEBP"), "image/webp")])
        await w.stop_bot()
        w.settings = make_settings(w.tmp, w.discord, w.gateway, reference_images_as="url")
        await w.start_bot()
        review = review_message(w, staff)
        approved = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await approved.wait_for_final(timeout=15)
        await eventually(lambda: "cost $0.162" in channel_text(w))
        [attached] = review_message(w, staff)["attachments"]
        assert [u.split("?")[0] for u in w.gateway.reference_urls] == [attached["url"].split("?")[0]]


async def _switch_database(w, folder) -> None:
    """The operator points DATABASE_URL at another file and restarts."""
    await w.stop_bot()
    folder.mkdir(exist_ok=True)
    w.settings = make_settings(folder, w.discord, w.gateway)
    await w.start_bot()


async def _a_dog_on_database_b_then_back_to_a(w, tmp_path) -> dict:
    """DATABASE_URL=a: alice's "a cat" is request #1. The operator tries DATABASE_URL=b for a while:
    alice's "a dog" is request #1 there. Back to DATABASE_URL=a. The buttons under the dog carry
    #1, which in database a is the older cat, ended a day before the dog's message."""
    await _switch_database(w, tmp_path / "a")
    w.storage.ledger._clock = lambda: utc_now() - timedelta(days=1)  # asked and made the day before
    await w.run("imagine", {"prompt": "a cat"})
    await _switch_database(w, tmp_path / "b")
    dog = await w.run("imagine", {"prompt": "a dog"})
    await _switch_database(w, tmp_path / "a")
    return result_message(dog)


async def test_reroll_under_a_result_of_another_database_does_not_make_an_older_request_with_its_id(tmp_path):
    async with world(tmp_path, start=False) as w:
        message = await _a_dog_on_database_b_then_back_to_a(w, tmp_path)
        sent = len(w.gateway.generation_requests)
        rerolled = await press(w, message, "reroll", 1)
        # The press says the request is gone (as for a database started afresh), privately, nothing
        # made or charged; it used to make "a cat" again and charge $0.162.
        assert "a cat" not in rerolled.all_text(), rerolled.all_text()
        assert len(w.gateway.generation_requests) == sent
        assert is_ephemeral(rerolled), rerolled.all_text()


async def test_delete_under_a_result_of_another_database_does_not_delete_an_older_result(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        message = await _a_dog_on_database_b_then_back_to_a(w, tmp_path)
        deleted = await press(w, message, "delete", 1, user=staff.moderator)
        assert is_ephemeral(deleted)
        # Delete under the dog removes the dog, not the cat's result.
        remaining = [m.get("content") or "" for m in w.discord.channel_messages(w.channel)]
        assert any("a cat" in text for text in remaining), remaining


async def test_an_approval_reviewed_at_an_unknown_price_is_not_made_at_a_price_set_after_the_review(tmp_path):
    # aiearth publishes no price: the review says "costs at most an unknown amount (no price set)"
    # (the books record $0). The operator then restarts with IMAGE_PRICES. README: "A request whose
    # price went up after its review (a restart with new IMAGE_PRICES) is not made when approved:
    # the moderator approved the cost the review showed, and is told, as is the member."
    async with world(tmp_path, flavour="aiearth", start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin, subcommand="approval")
        await w.run("imagine", {"prompt": "a fox", "count": 4})
        assert "unknown amount" in review_message(w, staff)["content"]
        await w.stop_bot()
        w.settings = make_settings(w.tmp, w.discord, w.gateway, image_prices={"doubao-seedream-5-0-260128": "0.5"})
        await w.start_bot()
        message = review_message(w, staff)
        approved = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await approved.wait_for_final(timeout=15)
        await eventually(lambda: "cost" in channel_text(w) or "could not run" in channel_text(w))
        # Not made and charged $2.00 (4 x $0.50) against the member's limit and the budget.
        assert "went up" in approved.all_text() or "price" in channel_text(w), channel_text(w)
        assert [r["cost_micros"] for r in await w.ledger_rows() if r["status"] == "settled"] == []
