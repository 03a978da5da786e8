"""/settings (show, defaults, required-role, approval) as admins use it, in English and Simplified
Chinese: what they set takes effect (and only in their server), and the defaults shown are the ones
requests use."""

from __future__ import annotations

import re

from tests.e2e.harness import world
from tests.e2e.staff import add_staff, is_ephemeral

SEEDREAM_4_0 = "doubao-seedream-4-0-250828"
SEEDREAM_4_5 = "doubao-seedream-4-5-251128"
SEEDREAM_5_0 = "doubao-seedream-5-0-260128"


def english_words(text: str) -> list[str]:
    """Words of English left in a reply, but model ids, sizes and the command name."""
    return re.findall(r"[A-Za-z]{3,}", re.sub(r"doubao-[\w-]+|gpt-image-[\d.]+|/blocklist list", "", text))


async def test_settings_show_and_changes_read_wholly_in_chinese(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        zh = {"user": staff.admin, "locale": "zh-CN"}
        replies = [
            await w.run("settings", {"role": staff.artists}, subcommand="required-role", **zh),
            await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, subcommand="approval", **zh),
            await w.run("settings", {"size": "2K", "watermark": False}, subcommand="defaults", **zh),
            await w.run("settings", subcommand="show", **zh),
            await w.run("settings", {}, subcommand="required-role", **zh),
            await w.run("settings", {"mode": "off"}, subcommand="approval", **zh),
        ]
        for inter in replies:
            text = inter.all_text()
            assert is_ephemeral(inter)
            assert english_words(text) == [], text


async def test_a_member_in_zh_cn_is_refused_by_the_required_role_in_chinese(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"role": staff.artists}, user=staff.admin, subcommand="required-role")
        refused = await w.run("imagine", {"prompt": "一只猫"}, locale="zh-CN")
        text = refused.all_text()
        assert f"<@&{staff.artists.id}>" in text and "role" not in text and is_ephemeral(refused), text


async def test_approval_mode_in_one_server_does_not_hold_requests_in_another(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        b = w.discord.add_guild("Server B")
        chan_b = w.discord.add_channel(b, "images-b")
        w.discord.add_member(b, w.alice)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                    subcommand="approval")  # fmt: skip
        await w.run("settings", {"model": SEEDREAM_5_0}, user=staff.admin, subcommand="defaults")
        inter = await w.discord.invoke_command("imagine", {"prompt": "a cat"}, user=w.alice, guild=b, channel=chan_b)
        await inter.wait_for_final(timeout=15, quiet=0.3)
        assert len(inter.files()) == 1, inter.all_text()
        assert w.gateway.generation_requests[-1].json["model"] == SEEDREAM_4_0


async def test_a_new_default_model_that_cannot_make_the_kept_default_size_clears_it(tmp_path):
    # Used to: the reply and /settings show kept saying "size 4K" while requests got 5.0's own size.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"size": "4K"}, user=staff.admin, subcommand="defaults")
        kept = await w.run("settings", {"model": SEEDREAM_4_5}, user=staff.admin, subcommand="defaults")
        assert f"Defaults: model {SEEDREAM_4_5}, size 4K," in kept.all_text()  # 4.5 makes 4K: kept
        assert "cleared" not in kept.all_text()

        saved = await w.run("settings", {"model": SEEDREAM_5_0}, user=staff.admin, subcommand="defaults")
        said = saved.all_text()
        assert is_ephemeral(saved)
        assert f"The default size 4K was cleared: {SEEDREAM_5_0} does not make it" in said, said
        assert f"Defaults: model {SEEDREAM_5_0}, size auto," in said, said
        assert w.storage.guild_config.get(w.guild.id).default_size is None
        shown = await w.run("settings", subcommand="show", user=staff.admin)
        assert f"Defaults: model {SEEDREAM_5_0}, size auto," in shown.all_text(), shown.all_text()
        await w.run("imagine", {"prompt": "a cat"})
        sent = w.gateway.generation_requests[-1].json
        assert sent["model"] == SEEDREAM_5_0 and sent.get("size") != "4K"

        # Naming a size with the model: the size is checked against the new model.
        refused = await w.run("settings", {"model": SEEDREAM_5_0, "size": "4K"}, user=staff.admin,
                              subcommand="defaults")  # fmt: skip
        assert "saved" not in refused.all_text() and is_ephemeral(refused)


async def test_the_cleared_default_size_is_told_in_chinese(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        zh = {"user": staff.admin, "locale": "zh-CN", "subcommand": "defaults"}
        await w.run("settings", {"size": "4K"}, **zh)
        saved = await w.run("settings", {"model": SEEDREAM_5_0}, **zh)
        text = saved.all_text()
        assert "已清除默认尺寸 4K" in text and english_words(text) == [], text


async def test_a_default_size_the_default_model_cannot_make_is_shown_as_not_used(tmp_path):
    # Saved before the bot checked it (or under another gateway): /settings show says so.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.storage.guild_config.update(w.guild.id, default_model=SEEDREAM_5_0, default_size="4K")
        shown = await w.run("settings", subcommand="show", user=staff.admin)
        assert f"size 4K (not used: {SEEDREAM_5_0} does not make it)" in shown.all_text(), shown.all_text()
        zh = await w.run("settings", subcommand="show", user=staff.admin, locale="zh-CN")
        assert f"4K（未使用：{SEEDREAM_5_0} 不支持该尺寸）" in zh.all_text(), zh.all_text()


async def test_a_stale_default_model_does_not_block_changing_the_other_defaults(tmp_path):
    # Used to: with a default model saved under another gateway, watermark:True was refused ("not offered here").
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.storage.guild_config.update(w.guild.id, default_model="gpt-image-1.5")  # xmsmartlink's
        done = await w.run("imagine", {"prompt": "a cat"})
        assert len(done.files()) == 1  # as the README says: the bot's default model instead
        saved = await w.run("settings", {"watermark": True}, user=staff.admin, subcommand="defaults")
        said = saved.all_text()
        assert "saved" in said, said
        assert f"model gpt-image-1.5 (not offered by this gateway: requests use {SEEDREAM_4_0})" in said, said
        assert w.storage.guild_config.get(w.guild.id).default_model == "gpt-image-1.5"
        assert w.storage.guild_config.get(w.guild.id).watermark is True

        # A size is checked against the model requests use (the bot's default, which makes 4K).
        sized = await w.run("settings", {"size": "4K"}, user=staff.admin, subcommand="defaults")
        assert "saved" in sized.all_text(), sized.all_text()
        await w.run("imagine", {"prompt": "a cat"})
        sent = w.gateway.generation_requests[-1].json
        assert (sent["model"], sent["size"], sent["watermark"]) == (SEEDREAM_4_0, "4K", True)

        # A model the admin names is still refused when it is not offered.
        named = await w.run("settings", {"model": "gpt-image-1.5"}, user=staff.admin, subcommand="defaults")
        assert "`gpt-image-1.5` is not offered here" in named.all_text() and is_ephemeral(named)
        zh = await w.run("settings", subcommand="show", user=staff.admin, locale="zh-CN")
        assert english_words(zh.all_text()) == [], zh.all_text()


async def test_defaults_without_an_option_change_nothing_and_reset_goes_alone(tmp_path):
    # Used to: no option replied "Server defaults saved." (and wrote an audit entry for nothing);
    # reset with a model forgot everything, the model named with it too.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"model": SEEDREAM_4_5}, user=staff.admin, subcommand="defaults")
        audited = len(await w.bot.storage.audit.recent(w.guild.id, action_prefix="moderation.defaults"))

        nothing = await w.run("settings", {}, user=staff.admin, subcommand="defaults")
        assert is_ephemeral(nothing) and "Nothing was changed" in nothing.all_text(), nothing.all_text()
        assert f"Defaults: model {SEEDREAM_4_5}," in nothing.all_text()
        assert len(await w.bot.storage.audit.recent(w.guild.id, action_prefix="moderation.defaults")) == audited

        both = await w.run("settings", {"reset": True, "model": SEEDREAM_5_0}, user=staff.admin, subcommand="defaults")
        assert is_ephemeral(both) and "use it alone" in both.all_text(), both.all_text()
        assert w.storage.guild_config.get(w.guild.id).default_model == SEEDREAM_4_5  # nothing forgotten

        reset = await w.run("settings", {"reset": True}, user=staff.admin, subcommand="defaults")
        assert "Server defaults saved." in reset.all_text()
        assert w.storage.guild_config.get(w.guild.id).default_model is None
