"""Moderation end to end: blocked terms (English, Chinese), allowed channels, the required role,
and admin-only settings, through the real bot and the Discord and gateway doubles."""

from __future__ import annotations

import pytest

from tests.e2e.harness import world
from tests.e2e.staff import add_staff, is_ephemeral
from tests.e2e.test_edit import image_bytes
from tests.e2e.test_result_buttons import _text_input_id, press, result_message


async def test_blocked_english_term_is_refused_without_naming_it_and_charges_nothing(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        added = await w.run("blocklist", {"term": "nude"}, user=staff.admin, subcommand="add")
        assert "added" in added.all_text()
        await w.run("blocklist", {"term": "re:g[o0]re"}, user=staff.admin, subcommand="add")

        for prompt in ("a NUDE portrait", "a g0re scene"):
            inter = await w.run("imagine", {"prompt": prompt})
            text = inter.all_text()
            assert "refused" in text and "not charged" in text
            assert "nude" not in text.casefold() and "g[o0]re" not in text and "gore" not in text
            assert is_ephemeral(inter)
        assert w.gateway.generation_requests == []
        # Each attempt is on the books as refused (nothing reserved or charged), for the moderators.
        rows = await w.ledger_rows()
        assert [(r["prompt"], r["status"], r["error_code"], r["reserved_micros"], r["charged_micros"])
                for r in rows] == [("a NUDE portrait", "refused", "blocked_term", 0, 0),
                                   ("a g0re scene", "refused", "blocked_term", 0, 0)]  # fmt: skip
        history = (await w.run("history", {"member": w.alice}, user=staff.admin)).all_text()
        assert "a NUDE portrait" in history and "refused (blocked term)" in history
        chinese = (await w.run("history", {"member": w.alice}, user=staff.admin, locale="zh-CN")).all_text()
        assert "屏蔽词" in chinese and "blocked" not in chinese  # the reason in the reader's language

        # A word that only contains the term is not the term.
        ok = await w.run("imagine", {"prompt": "denuded hills at dawn"})
        assert len(ok.files()) == 1


async def test_blocked_chinese_term_matches_inside_a_sentence_and_answers_in_chinese(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("blocklist", {"term": "裸体"}, user=staff.admin, subcommand="add")
        inter = await w.run("imagine", {"prompt": "画一个裸体的女人"}, locale="zh-CN")
        text = inter.all_text()
        assert "被拒绝" in text and "未向你计费" in text
        assert "裸体" not in text
        assert w.gateway.generation_requests == []
        assert [(r["status"], r["error_code"], r["charged_micros"]) for r in await w.ledger_rows()] == [
            ("refused", "blocked_term", 0)
        ]

        listed = await w.run("blocklist", user=staff.admin, subcommand="list")
        assert "裸体" in listed.all_text() and is_ephemeral(listed)
        await w.run("blocklist", {"term": "裸体"}, user=staff.admin, subcommand="remove")
        ok = await w.run("imagine", {"prompt": "画一个裸体的女人"}, locale="zh-CN")
        assert len(ok.files()) == 1


async def test_an_invalid_regular_expression_is_refused_when_added(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        inter = await w.run("blocklist", {"term": "re:(unclosed"}, user=staff.admin, subcommand="add")
        assert "can't be used: the regular expression is invalid at character 10." in inter.all_text()  # the ) it lacks
        chinese = await w.run("blocklist", {"term": "re:a[b"}, user=staff.admin, subcommand="add",
                              locale="zh-CN")  # fmt: skip
        assert chinese.all_text() == "无法使用该词：正则表达式在第 4 个字符处无效。", chinese.all_text()
        listed = await w.run("blocklist", user=staff.admin, subcommand="list")
        assert "No terms are blocked" in listed.all_text()


async def test_allowed_channels_refuse_elsewhere_and_name_the_channel(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        studio = w.discord.add_channel(w.guild, "studio")
        await w.start_bot()
        await w.run("settings", {"channel": studio}, user=staff.admin, subcommand="channels add")

        refused = await w.run("imagine", {"prompt": "a cat"})
        assert f"<#{studio.id}>" in refused.all_text()
        assert is_ephemeral(refused)
        assert w.gateway.generation_requests == []

        there = await w.discord.invoke_command(
            "imagine", {"prompt": "a cat"}, user=w.alice, guild=w.guild, channel=studio
        )
        await there.wait_for_final(timeout=15)
        assert len(there.files()) == 1

        await w.run("settings", user=staff.admin, subcommand="channels clear")
        again = await w.run("imagine", {"prompt": "a cat"})
        assert len(again.files()) == 1


async def test_a_long_list_of_allowed_channels_still_fits_the_replies(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        channels = [w.discord.add_channel(w.guild, f"studio-{i}") for i in range(90)]
        await w.start_bot()
        for channel in channels[:-1]:  # each mention takes ~24 characters: 90 of them are over 2000
            await w.bot.storage.guild_config.add_channel(w.guild.id, channel.id)
        added = await w.run("settings", {"channel": channels[-1]}, user=staff.admin, subcommand="channels add")
        shown = await w.run("settings", user=staff.admin, subcommand="show")
        for reply in (added, shown):
            text = reply.all_text()
            assert len(text) <= 2000 and f"<#{channels[0].id}>" in text and "(+" in text, text[-200:]
        assert channels[-1].id in w.bot.storage.guild_config.get(w.guild.id).allowed_channel_ids


async def test_an_allowed_channel_covers_its_threads(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        studio = w.discord.add_channel(w.guild, "studio")
        brainstorm = w.discord.add_thread(studio, "brainstorm")
        elsewhere = w.discord.add_thread(w.channel, "chatter")
        await w.start_bot()
        await w.run("settings", {"channel": studio}, user=staff.admin, subcommand="channels add")

        inside = await w.run("imagine", {"prompt": "a cat"}, channel=brainstorm)
        assert len(inside.files()) == 1, inside.all_text()
        outside = await w.run("imagine", {"prompt": "a cat"}, channel=elsewhere)
        assert f"<#{studio.id}>" in outside.all_text() and is_ephemeral(outside)
        assert len(w.gateway.generation_requests) == 1


async def test_required_role_refuses_members_without_it(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        w.discord.add_member(w.guild, w.bob, [staff.artists])
        await w.start_bot()
        await w.run("settings", {"role": staff.artists}, user=staff.admin, subcommand="required-role")

        refused = await w.run("imagine", {"prompt": "a cat"})
        assert f"<@&{staff.artists.id}>" in refused.all_text()
        assert w.gateway.generation_requests == []
        assert [(r["status"], r["error_code"], r["charged_micros"]) for r in await w.ledger_rows()] == [
            ("refused", "role_required", 0)
        ]

        allowed = await w.run("imagine", {"prompt": "a cat"}, user=w.bob)
        assert len(allowed.files()) == 1


async def test_server_defaults_choose_the_model_size_and_watermark(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        saved = await w.run(
            "settings", {"model": "doubao-seedream-4-5-251128", "size": "4K", "watermark": True},
            user=staff.admin, subcommand="defaults",
        )
        assert "saved" in saved.all_text()
        await w.run("imagine", {"prompt": "a cat"})
        body = w.gateway.generation_requests[-1].json
        assert body["model"] == "doubao-seedream-4-5-251128"
        assert body["size"] == "4K"
        assert body["watermark"] is True
        # A member's own choice wins.
        await w.run("imagine", {"prompt": "a cat", "size": "2K"})
        assert w.gateway.generation_requests[-1].json["size"] == "2K"


@pytest.mark.parametrize(
    ("name", "options", "subcommand"),
    [
        ("blocklist", {"term": "cat"}, "add"),
        ("blocklist", {}, "list"),
        ("settings", {}, "show"),
        ("settings", {"mode": "on"}, "approval"),
        ("settings", {}, "channels clear"),
    ],
)
async def test_settings_commands_refuse_non_admins_even_if_discord_shows_them(tmp_path, name, options, subcommand):
    # The double does not apply default_member_permissions, like a server that changed them.
    async with world(tmp_path) as w:
        inter = await w.run(name, options, user=w.alice, subcommand=subcommand)
        assert "Manage Server" in inter.all_text()
        assert is_ephemeral(inter)
        ok = await w.run("imagine", {"prompt": "a cat"})  # nothing was changed
        assert len(ok.files()) == 1


async def test_a_blocked_phrase_spaced_out_is_refused_in_variation_edit_and_series(tmp_path):
    # A newline or two spaces between its words, a space inside a Chinese term: still the term.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        first = await w.run("imagine", {"prompt": "a castle on a hill"})
        request_id = (await w.ledger_rows())[0]["id"]
        for term in ("naked woman", "裸体"):
            await w.run("blocklist", {"term": term}, user=staff.admin, subcommand="add")
        opened = await press(w, result_message(first), "variation", request_id)
        modal = opened.modal
        submitted = await w.discord.submit_modal(
            modal["custom_id"], {_text_input_id(modal): "a naked\nwoman on the castle"},
            user=w.alice, from_interaction=opened)  # fmt: skip
        await submitted.wait_for_final(timeout=15)
        await w.run("edit", {"prompt": "make her a naked  woman"}, attachments=[("p.png", image_bytes(), "image/png")])
        await w.run("series", {"prompt": "画一个裸 体的女人", "count": 2})
        sent = [r.json["prompt"] for r in w.gateway.generation_requests][1:]
        assert sent == [], sent


async def test_the_blocklist_lists_whole_terms_as_they_are_typed_and_attaches_what_does_not_fit(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        terms = [f"term{i:02d}-" + "x" * 180 for i in range(12)] + ["bad`word"]
        for term in terms:
            await w.run("blocklist", {"term": term}, user=staff.admin, subcommand="add")
        listed = await w.run("blocklist", user=staff.admin, subcommand="list")
        text = listed.all_text()
        shown = [line.removeprefix("`` ").removesuffix(" ``") for line in text.splitlines() if line.startswith("``")]
        stored = list(w.bot.storage.guild_config.get(w.guild.id).blocked_terms)
        assert sorted(stored) == sorted(terms)
        assert shown == stored[: len(shown)] and 0 < len(shown) < len(terms)  # whole terms, none cut
        assert "bad`word" in shown
        assert f"and {len(terms) - len(shown)} more" in text and len(text) <= 2000
        [(name, data)] = listed.files()
        assert name == "blocked-terms.txt" and data.decode().splitlines() == stored  # every one, as typed
        # the one with a backtick, as listed, is what remove takes
        await w.run("blocklist", {"term": "bad`word"}, user=staff.admin, subcommand="remove")
        assert "bad`word" not in w.bot.storage.guild_config.get(w.guild.id).blocked_terms


async def test_a_term_with_two_backticks_together_is_listed_only_in_the_attached_file(tmp_path):
    # "``" would close the double-backtick span it is shown in, and what follows would read as
    # Markdown: such a term is left out of the message and the file has it as typed.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        for term in ("plainword", "odd``term"):
            await w.run("blocklist", {"term": term}, user=staff.admin, subcommand="add")
        listed = await w.run("blocklist", user=staff.admin, subcommand="list")
        text = listed.all_text()
        assert "`` plainword ``" in text and "odd``term" not in text
        assert "and 1 more" in text
        [(name, data)] = listed.files()
        assert name == "blocked-terms.txt" and sorted(data.decode().splitlines()) == ["odd``term", "plainword"]
