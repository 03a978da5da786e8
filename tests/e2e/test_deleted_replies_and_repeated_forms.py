"""A deleted reply followed up through its token (pipeline/delivery.py InteractionSink.lose_reply),
and the same Variation form sent twice made once (cogs/result_buttons.py submit_variation's `_once`),
in approval mode reviewed once (cogs/approval.py `_same_request`, the image known by its address)."""

from __future__ import annotations

import asyncio

from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.staff import eventually, is_ephemeral
from tests.e2e.test_approval import approval_world
from tests.e2e.test_approval_queue import approve
from tests.e2e.test_bot_permissions import ATTACH_FILES, SEND_MESSAGES, bot_denied
from tests.e2e.test_odd_places import QUOTAS, bug_lines, rows_closed
from tests.e2e.test_queue import buttons
from tests.e2e.test_result_buttons import _text_input_id, press, result_message


def channel_posts(w) -> list:
    return [r for r in w.discord.requests if r.method == "POST" and r.path == f"/channels/{w.channel.id}/messages"]


async def test_reply_deleted_midway_through_a_series_the_rest_and_the_summary_come_as_follow_ups(tmp_path):
    # A streamed series of 4 in a channel where the bot may not post as itself; a
    # moderator deletes the reply (with image 1) after it arrives. Images 2-4 and the summary with
    # its buttons come as follow-ups through the token; nothing is posted as the bot (Discord
    # would refuse it); Alice pays for the 4 images delivered.
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.4},
                     image_prices={"doubao-seedream-5-0-260128": "0.035"}, **QUOTAS) as w:
        await w.discord.set_overwrites(w.channel, bot_denied(w, SEND_MESSAGES | ATTACH_FILES))
        series = await w.discord.invoke_command("series", {"prompt": "four seasons", "count": 4}, user=w.alice,
                                                guild=w.guild, channel=w.channel)
        await series.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=20)
        series.original.deleted = True
        [row] = await rows_closed(w, 1)
        await series.wait_for_final(timeout=20, quiet=0.5)
        files = [a for m in series.messages for a in m.get("attachments", [])]
        assert len(files) == 3, series.kinds()  # 2-4 (image 1 went with the deleted reply)
        summary = result_message(series)
        assert "4 images" in summary["content"] and "cost $0.14" in summary["content"], summary["content"]
        assert channel_posts(w) == []
        assert (row["images_delivered"], row["charged_micros"]) == (4, 140_000), row
        await assert_books_balanced(w.storage)
        assert bug_lines(w) == []


async def test_in_approval_mode_the_same_variation_form_sent_again_a_moment_later_is_reviewed_once(tmp_path):
    # The same Variation form arrives twice (a client re-sending on a slow link), the second a
    # moment after the first was answered (in approval mode, once its review is posted). Its image
    # is the result's own attachment, known by its address: one review, the second told it waits
    # already, as /imagine sent twice is. Two reviews could both be approved: made and charged twice.
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await w.run("imagine", {"prompt": "a quiet lake"})
        await approve(w, staff, "a quiet lake")
        await eventually(lambda: any("sd:variation:" in b for m in w.discord.channel_messages(w.channel)
                                     for b in buttons(m)))
        [result] = [m for m in w.discord.channel_messages(w.channel) if any("sd:variation:" in b for b in buttons(m))]
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result, "variation", request_id)
        answers = []
        for _ in range(2):
            sent = await w.discord.submit_modal(opened.modal["custom_id"], {_text_input_id(opened.modal): "at dawn"},
                                                user=w.alice, from_interaction=opened)
            await sent.wait_for_final(timeout=15, quiet=0.3)
            answers.append(sent)
        reviews = [m for m in w.discord.channel_messages(staff.mods_channel) if "at dawn" in (m.get("content") or "")]
        assert len(reviews) == 1, (len(reviews), [a.all_text() for a in answers])
        assert is_ephemeral(answers[1]), answers[1].all_text()


async def test_two_variations_with_different_prompts_sent_at_once_are_both_made(tmp_path):
    # The key of `_once` holds the prompt: two forms of the same result with
    # different prompts, sent together on purpose, are two variations, each made and charged once.
    async with world(tmp_path, gateway={"latency": 0.3}, **QUOTAS) as w:
        first = await w.run("imagine", {"prompt": "a quiet lake"})
        request_id = (await w.ledger_rows())[0]["id"]
        forms = [await press(w, result_message(first), "variation", request_id) for _ in range(2)]

        async def send(opened, prompt):
            sent = await w.discord.submit_modal(opened.modal["custom_id"], {_text_input_id(opened.modal): prompt},
                                                user=w.alice, from_interaction=opened)
            await sent.wait_for_final(timeout=15, quiet=0.5)
            return sent

        one, two = await asyncio.gather(send(forms[0], "at dawn"), send(forms[1], "at night"))
        rows = await rows_closed(w, 3)
        made = sorted(r["prompt"] for r in rows if r["command"] == "variation" and r["status"] == "settled")
        assert made == ["at dawn", "at night"], (
            made, one.all_text(), two.all_text())
        assert len(one.files()) == len(two.files()) == 1
        await assert_books_balanced(w.storage)
