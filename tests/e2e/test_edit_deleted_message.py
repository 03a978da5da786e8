"""The Edit form submitted after the message it was opened on was deleted, with no restart in
between: the bot hears of no deletion (it asks for no message events), so the form's submission
fetches the message again. It used to edit and post the deleted photo publicly, and charge for it
(or, once the CDN had dropped the file, answer in public that the attachment could not be
downloaded, "please try again", which could only fail again)."""

from __future__ import annotations

import pytest

from tests.e2e.harness import world
from tests.e2e.staff import is_ephemeral
from tests.e2e.test_edit import MENU, _text_inputs, image_bytes


async def _menu_then_submit(w, message, *, before_submit=None):
    menu = await w.discord.invoke_message_command(MENU, message, user=w.alice)
    await menu.wait_for_ack()
    if before_submit is not None:
        before_submit()
    input_id = next(_text_inputs(menu.modal["components"]))
    submitted = await w.discord.submit_modal(
        menu.modal["custom_id"], {input_id: "at dawn"}, user=w.alice, from_interaction=menu
    )
    await submitted.wait_for_final(timeout=15, quiet=0.3)
    return submitted


@pytest.mark.parametrize("files_too", [True, False], ids=["files-gone", "files-still-served"])
async def test_a_form_submitted_after_its_message_was_deleted_says_the_message_is_gone(tmp_path, files_too):
    picture = image_bytes("PNG", colour=(9, 9, 90))
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        message = await w.discord.post_user_message(w.channel, w.bob, "", attachments=[("p.png", picture, "image/png")])
        # Bob deletes his photo while Alice types her prompt.
        gone = await _menu_then_submit(w, message, before_submit=lambda: w.discord.delete_user_message(
            message, files_too=files_too))  # fmt: skip
        assert gone.files() == []
        assert "no longer" in gone.all_text() and is_ephemeral(gone), gone.all_text()
        assert w.gateway.generation_requests == []
        assert await w.ledger_rows() == []


async def test_without_read_message_history_the_form_uses_the_message_as_the_menu_saw_it(tmp_path):
    picture = image_bytes("PNG", colour=(9, 90, 9))
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        message = await w.discord.post_user_message(w.channel, w.bob, "", attachments=[("p.png", picture, "image/png")])
        path = rf"^/channels/{w.channel.id}/messages/{message['id']}$"
        # Discord answers a bot without Read Message History 403 Missing Access.
        missing_access = {"code": 50001, "message": "Missing Access"}
        no_history = {"status": 403, "method": "GET", "path": path, "body": missing_access}
        made = await _menu_then_submit(w, message, before_submit=lambda: w.discord.fail_next(10, **no_history))
        assert len(made.files()) == 1, made.all_text()
        assert len(w.gateway.generation_requests) == 1
