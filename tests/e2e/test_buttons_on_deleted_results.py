"""Presses on a result whose message (and so its images) was deleted meanwhile: told privately, nothing made."""

from __future__ import annotations

from tests.e2e.harness import world
from tests.e2e.test_result_buttons import _text_input_id, is_ephemeral, press, result_message


def _gone_from_discord(w, message: dict) -> None:
    """The message is deleted: Discord no longer serves its attachments."""
    w.discord.messages[int(message["id"])].deleted = True
    for attachment in message.get("attachments") or []:
        w.discord.store.remove(int(attachment["id"]))


async def test_upscale_pressed_on_a_result_deleted_meanwhile_is_told_privately_and_clearly(tmp_path):
    # The member's client still shows the result (deleted a moment ago, by a moderator or their
    # other device) and they press Upscale.
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a copper kettle"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        inter = await w.discord.click_button(message, f"sd:upscale:{request_id}", user=w.alice)
        _gone_from_discord(w, message)
        await inter.wait_for_final(timeout=15, quiet=0.5)
        text = inter.all_text()
        assert len(w.gateway.generation_requests) == 1
        assert "try again" not in text.lower(), text  # trying again cannot bring the image back
        assert "no longer" in text, text
        assert is_ephemeral(inter) or all(m.get("flags", 0) & 64 for m in inter.messages), (
            f"told in public: {inter.kinds()} {text!r}"
        )
        assert all((r["charged_micros"] or 0) == 0 for r in (await w.ledger_rows())[1:])


async def test_a_variation_form_sent_after_the_result_was_deleted_is_told_privately_and_clearly(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a copper kettle"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        opened = await press(w, message, "variation", request_id)
        _gone_from_discord(w, message)
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {_text_input_id(opened.modal): "a copper kettle, steaming"}, user=w.alice,
            from_interaction=opened,
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15, quiet=0.5)
        text = submitted.all_text()
        assert len(w.gateway.generation_requests) == 1
        assert "try again" not in text.lower() and "no longer" in text, text
        assert is_ephemeral(submitted) or all(m.get("flags", 0) & 64 for m in submitted.messages), (
            f"told in public: {submitted.kinds()} {text!r}"
        )
