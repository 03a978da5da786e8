"""A moderated server with every rule on at once - approval mode, a blocklist,
allowed channels, a required role, per-member and per-role quotas with an exempt role, a budget -
as its members and admins meet it, on every way in."""

from __future__ import annotations

import asyncio

from tests.e2e.harness import world
from tests.e2e.staff import add_staff, eventually, is_ephemeral
from tests.e2e.test_edit import MENU, _text_inputs, image_bytes
from tests.e2e.test_moderated_server import modded, reviews
from tests.e2e.test_result_buttons import press, result_message

GUILD_FORUM = 15  # Discord's channel type of a forum, whose posts are threads


def _png():
    return ("a.png", image_bytes(), "image/png")


# -- rules no option or prompt changes come first ------------------------------------------------


async def test_a_member_in_a_channel_where_images_are_not_allowed_is_told_where_to_go_before_any_option(tmp_path):
    # alice (who has the required role) types /imagine in #lobby, where image commands are
    # not allowed, with a size the model does not take. She is told "That size can't be used: ...
    # 1K, 2K, 4K ...", fixes the size, and only then learns no size would ever have worked here.
    # bob, who lacks the required role, is likewise taught the sizes first (and the model list
    # for a wrong model). The rule no option can change must come first: "use #images" / "you need
    # the Artists role". (`Pipeline.screen` runs `build_request`'s option checks before the
    # moderation checks: pipeline/runner.py:267-268; `pick_model` already refuses an unknown model
    # in `job_from_interaction`, cogs/options.py:50.)
    async with world(tmp_path, start=False) as w:
        m = await modded(w)
        wrong_place = await w.run("imagine", {"prompt": "a cat", "size": "3x3"}, channel=m.lobby)
        no_role = await w.run("imagine", {"prompt": "a cat", "size": "3x3"}, user=w.bob)
        assert is_ephemeral(wrong_place) and is_ephemeral(no_role)
        assert w.gateway.generation_requests == [] and reviews(w, m) == []
        assert f"<#{w.channel.id}>" in wrong_place.all_text(), wrong_place.all_text()
        assert f"<@&{m.staff.artists.id}>" in no_role.all_text(), no_role.all_text()


async def test_members_are_not_sent_to_an_allowed_channel_that_was_deleted(tmp_path):
    # The admins allowed image commands only in #art, then deleted #art. Every member, in
    # every channel, is now told "Image commands work only in <#art> on this server": a channel
    # that no longer exists (Discord shows "#unknown"), so nobody can generate and nobody is told
    # why; /settings show still lists it too. The bot already handles the same mistake for the
    # required role (moderation.role_deleted: "the role was deleted ... ask an admin"), and it hears
    # CHANNEL_DELETE (bot.py:215 only withdraws waiting requests). Expected: the dead channel is not
    # offered as the place to go (drop it from the list, or say the allowed channel was deleted and
    # an admin must choose another). pipeline/moderation.py:202-206.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        art = w.discord.add_channel(w.guild, "art")
        await w.start_bot()
        await w.run("settings", {"channel": art}, user=staff.admin, subcommand="channels add")
        await w.discord.delete_channel(art)
        await eventually(lambda: w.bot.get_channel(art.id) is None)
        refused = await w.run("imagine", {"prompt": "a cat"})
        assert is_ephemeral(refused) and w.gateway.generation_requests == []
        assert f"<#{art.id}>" not in refused.all_text(), (
            f"the member is sent to a deleted channel: {refused.all_text()!r}")


async def test_a_forum_can_be_the_allowed_channel_its_posts_being_threads(tmp_path):
    # README: "/settings channels add channel: image commands only in these channels (and
    # their threads)". Community servers commonly keep their art in a forum channel, whose posts
    # are threads. The `channel` option is typed `discord.TextChannel`, so the bot registers
    # channel_types [0, 5] (text, announcement): Discord's picker offers no forum, and an admin
    # cannot allow the forum (nor remove one). A server whose image channel is a forum cannot use
    # allowed channels at all (cogs/admin_moderation.py:121,127).
    async with world(tmp_path) as w:
        settings = w.discord.commands.find("settings", guild_id=None)
        [channels] = [o for o in settings["options"] if o["name"] == "channels"]
        for sub in channels["options"]:
            for option in sub.get("options", []):
                if option["type"] == 7:  # CHANNEL
                    assert GUILD_FORUM in option.get("channel_types", [GUILD_FORUM]), (
                        f"/settings channels {sub['name']}: channel_types {option['channel_types']}")


async def test_a_member_no_prompt_could_let_through_is_refused_before_a_form_asks_for_one(tmp_path):
    # An admin blocks a member with "/quota set member daily_images 0" (README: a limit
    # of 0 allows nothing), or sets the budget to 0 ("stops everything"). The Upscale menu refuses
    # such a member before asking which image ("once a limit would not refuse it"), and /imagine
    # refuses at once; but "Edit with Seedream" and Variation open their form, let the member type
    # a prompt, and only then refuse it. No prompt can change a limit of 0: it should be said
    # before the form opens, as for the channel and the role (`Pipeline.check_access` runs only
    # the moderation checks: pipeline/runner.py:277-283; cogs/edit.py:133, cogs/result_buttons.py:338).
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        first = await w.run("imagine", {"prompt": "a castle"})
        request_id = (await w.ledger_rows())[0]["id"]
        await w.run("quota", {"member": w.alice, "daily_images": 0}, user=staff.admin, subcommand="set")
        message = await w.discord.post_user_message(w.channel, w.bob, "look", attachments=[_png()])
        menu = await w.discord.invoke_message_command(MENU, message, user=w.alice)
        await menu.wait_for_final(timeout=15, quiet=0.3)
        variation = await press(w, result_message(first), "variation", request_id)
        await w.run("budget", {"amount": "0"}, user=staff.admin, subcommand="set")
        bobs_menu = await w.discord.invoke_message_command(MENU, message, user=w.bob)
        await bobs_menu.wait_for_final(timeout=15, quiet=0.3)
        opened = [name for name, inter in (("menu (daily 0)", menu), ("variation (daily 0)", variation),
                                           ("menu (budget 0)", bobs_menu)) if inter.modal is not None]
        assert opened == [], f"a prompt form opened for a member no prompt can let through: {opened}"


# -- rules combined ------------------------------------------------------------------------------


async def test_a_hidden_chinese_term_via_the_edit_menu_in_approval_mode_and_its_removal(tmp_path):
    # Every control on; "裸体" blocked. The Edit menu's prompt hides it with a
    # zero-width space and an ideographic space: refused privately, never shown to the
    # moderators, nothing sent or charged, recorded as blocked_term. The admin removes the term:
    # the same prompt now goes to the moderators at once. Both changes are in the audit log.
    async with world(tmp_path, start=False) as w:
        m = await modded(w)
        admin = m.staff.admin
        await w.run("blocklist", {"term": "裸体"}, user=admin, subcommand="add")
        message = await w.discord.post_user_message(w.channel, w.bob, "look", attachments=[_png()])

        async def via_menu(prompt: str):
            menu = await w.discord.invoke_message_command(MENU, message, user=w.alice, locale="zh-CN")
            await menu.wait_for_ack()
            assert menu.modal is not None, menu.all_text()
            field = next(_text_inputs(menu.modal["components"]))
            submitted = await w.discord.submit_modal(menu.modal["custom_id"], {field: prompt}, user=w.alice,
                                                     from_interaction=menu, locale="zh-CN")
            await submitted.wait_for_final(timeout=15, quiet=0.3)
            return submitted

        hidden = "画一个裸\u200b\u3000体的女人"
        refused = await via_menu(hidden)
        assert is_ephemeral(refused) and "拒绝" in refused.all_text(), refused.all_text()
        assert reviews(w, m) == [] and w.gateway.generation_requests == []
        rows = await w.ledger_rows()
        assert [(r["status"], r["error_code"], r["charged_micros"]) for r in rows] == [("refused", "blocked_term", 0)]

        await w.run("blocklist", {"term": "裸 体"}, user=admin, subcommand="remove")  # typed with a space
        sent = await via_menu(hidden)
        assert is_ephemeral(sent) and len(reviews(w, m)) == 1, sent.all_text()
        actions = [(r["action"], r["old_value"], r["new_value"])
                   for r in await w.storage.db.fetchall("SELECT * FROM audit_log ORDER BY id")]
        assert ("moderation.term_added", None, "裸体") in actions
        assert ("moderation.term_removed", "裸体", None) in actions


async def test_members_of_different_roles_at_once_each_meet_their_own_rule(tmp_path):
    # Required role Artists, images only in #images (and its threads), "gore"
    # blocked, @everyone 2 images a day, Regulars 4, Patrons exempt, a $5 budget. Five members
    # ask at the same moment through /imagine, /series and /edit (then a Re-roll): each gets exactly the
    # rule that applies to them, privately, and nothing refused is sent or charged.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        d = w.discord
        regulars, patrons = d.add_role(w.guild, "Regulars"), d.add_role(w.guild, "Patrons")
        carol, dave, erin = d.add_user("carol"), d.add_user("dave"), d.add_user("erin")
        d.add_member(w.guild, w.alice, [staff.artists, patrons])
        d.add_member(w.guild, w.bob, [staff.artists, regulars])
        d.add_member(w.guild, carol, [staff.artists])
        d.add_member(w.guild, dave, [])
        d.add_member(w.guild, erin, [staff.artists])
        lobby = d.add_channel(w.guild, "lobby")
        thread = d.add_thread(w.channel, "wip")
        await w.start_bot()
        admin = staff.admin
        await w.run("settings", {"role": staff.artists}, user=admin, subcommand="required-role")
        await w.run("settings", {"channel": w.channel}, user=admin, subcommand="channels add")
        await w.run("blocklist", {"term": "gore"}, user=admin, subcommand="add")
        await w.run("quota", {"role": w.guild.id, "daily_images": 2}, user=admin, subcommand="set")
        await w.run("quota", {"role": regulars, "daily_images": 4}, user=admin, subcommand="set")
        await w.run("quota", {"role": patrons, "exempt": True}, user=admin, subcommand="exempt")
        await w.run("budget", {"amount": "5"}, user=admin, subcommand="set")
        first = await w.run("imagine", {"prompt": "a heron"}, user=erin)
        [erins] = await w.ledger_rows()

        # erin: two at a time (MAX_REQUESTS_PER_MEMBER), her Re-roll right after
        alice_series, bob_edit, carol_many, dave_any, erin_gore, erin_lobby = await asyncio.gather(
            w.run("series", {"prompt": "a heron story", "count": 5}, channel=thread),
            w.run("edit", {"prompt": "make it blue"}, user=w.bob, attachments=[_png()]),
            w.run("imagine", {"prompt": "three cats", "count": 3}, user=carol),
            w.run("imagine", {"prompt": "a cat"}, user=dave),
            w.run("imagine", {"prompt": "GORE"}, user=erin),
            w.run("imagine", {"prompt": "a dog"}, user=erin, channel=lobby),
        )
        erin_reroll = await press(w, result_message(first), "reroll", erins["id"], user=erin)
        assert len(alice_series.files()) == 5, alice_series.all_text()  # exempt: over the server's 2
        assert len(bob_edit.files()) == 1, bob_edit.all_text()
        assert len(erin_reroll.files()) == 1, erin_reroll.all_text()  # her 2nd image of 2 today
        for inter, told in ((carol_many, "daily limit of 2"), (dave_any, f"<@&{staff.artists.id}>"),
                            (erin_gore, "refused"), (erin_lobby, f"<#{w.channel.id}>")):
            assert is_ephemeral(inter) and told in inter.all_text(), inter.all_text()
        prompts = sorted(r.json["prompt"] for r in w.gateway.generation_requests)
        assert not any(p in prompts for p in ("three cats", "a cat", "GORE", "a dog")), prompts
        rows = await w.ledger_rows()
        refused = [r for r in rows if r["status"] == "refused"]
        assert sorted(r["error_code"] for r in refused) == sorted(
            ["daily_images", "role_required", "blocked_term", "wrong_channel"]), refused
        assert all(r["charged_micros"] == 0 and r["cost_micros"] == 0 for r in refused)
        settled = [r for r in rows if r["status"] == "settled"]
        assert sum(r["cost_micros"] for r in settled) == 162_000 * (1 + 5 + 1 + 1)
