"""/blocklist as a server's admins use it: the spellings a blocked term refuses (case, spacing,
Unicode forms, typographic punctuation, Chinese), a term added again in another spelling, removing
every stored spelling of a term, and replies in the admin's language."""

from __future__ import annotations

import pytest

from tests.e2e.harness import world
from tests.e2e.staff import add_staff, is_ephemeral
from tests.e2e.test_result_buttons import press, result_message


async def _blocked(w, prompt: str, locale: str = "en-US") -> bool:
    before = len(w.gateway.generation_requests)
    inter = await w.run("imagine", {"prompt": prompt}, locale=locale)
    return len(w.gateway.generation_requests) == before and not inter.files()


@pytest.mark.parametrize(
    ("term", "prompt"),
    [
        ("nude", "a ＮＵＤＥ statue"),            # full-width
        ("nude", "a nu\u200bde statue"),          # zero-width space
        ("nude", "a nu\u00adde statue"),          # soft hyphen
        ("nude", "NUDE."),                         # punctuation after it
        ("naked woman", "a NAKED\u3000woman"),    # ideographic space between the words
        ("裸体", "画一个裸\u3000体的女人"),          # ideographic space inside a Chinese term
        ("裸体", "画一个ＡＢ裸体"),                   # Chinese term after full-width Latin
        ("nude", "画一个nude女人"),                  # Latin term touching Chinese text
        ("ヌード", "ﾇｰﾄﾞ写真"),                     # half-width katakana
        ("straße", "STRASSE"),                      # case folding of ß
        ("child's body", "a child\u2019s body"),    # typographic apostrophe (phones)
        ("child\u2019s body", "a child's body"),    # and the other way round
        ("x-rated", "an x\u2013rated film"),         # en dash for a hyphen
        ('"nude"', "a \u201cnude\u201d statue"),      # curly double quotes
        ("re:child's", "a child\u2019s toy"),        # a regular expression reads them the same
        ("re:child\u2019s", "a child's toy"),
    ],
)
async def test_blocked_variants_are_refused(tmp_path, term, prompt):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("blocklist", {"term": term}, user=staff.admin, subcommand="add")
        assert await _blocked(w, prompt), f"{prompt!r} should be refused by the blocked term {term!r}"


async def test_blocklist_replies_in_chinese_for_a_zh_cn_admin(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        added = await w.run("blocklist", {"term": "血腥"}, user=staff.admin, subcommand="add", locale="zh-CN")
        again = await w.run("blocklist", {"term": "血腥"}, user=staff.admin, subcommand="add", locale="zh-CN")
        listed = await w.run("blocklist", user=staff.admin, subcommand="list", locale="zh-CN")
        removed = await w.run("blocklist", {"term": "血腥"}, user=staff.admin, subcommand="remove", locale="zh-CN")
        missing = await w.run("blocklist", {"term": "血腥"}, user=staff.admin, subcommand="remove", locale="zh-CN")
        for inter in (added, again, listed, removed, missing):
            text = inter.all_text()
            assert is_ephemeral(inter)
            assert not any(word in text for word in ("blocked", "Blocked", "term")), text


async def test_adding_a_term_in_another_case_is_said_to_be_already_blocked(tmp_path):
    # Used to answer "Blocked term added." and store a second copy.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("blocklist", {"term": "nude"}, user=staff.admin, subcommand="add")
        again = await w.run("blocklist", {"term": "NUDE"}, user=staff.admin, subcommand="add")
        assert "already blocked" in again.all_text(), (
            "adding 'NUDE' when 'nude' is blocked should say the term is already blocked (matching ignores "
            f"case), got: {again.all_text()!r}"
        )
        wide = await w.run("blocklist", {"term": "ＮＵＤＥ"}, user=staff.admin, subcommand="add")
        assert "already blocked" in wide.all_text()
        assert w.bot.storage.guild_config.get(w.guild.id).blocked_terms == ("nude",)


async def test_a_regular_expression_is_compared_as_typed(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        for term in ("re:g[o0]re", "re:G[O0]RE", "gore"):  # two patterns as typed, and a word
            added = await w.run("blocklist", {"term": term}, user=staff.admin, subcommand="add")
            assert "added" in added.all_text(), term
        again = await w.run("blocklist", {"term": "re:g[o0]re"}, user=staff.admin, subcommand="add")
        assert "already blocked" in again.all_text()
        await w.run("blocklist", {"term": "re:g[o0]re"}, user=staff.admin, subcommand="remove")
        assert sorted(w.bot.storage.guild_config.get(w.guild.id).blocked_terms) == ["gore", "re:G[O0]RE"]


async def test_removing_a_term_unblocks_it_even_if_a_case_variant_was_added(tmp_path):
    # Used to remove only the exact spelling: "Nude", stored as another term, still refused "nude".
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("blocklist", {"term": "Nude"}, user=staff.admin, subcommand="add")
        await w.run("blocklist", {"term": "nude"}, user=staff.admin, subcommand="add")
        removed = await w.run("blocklist", {"term": "nude"}, user=staff.admin, subcommand="remove")
        assert "removed" in removed.all_text()
        assert not await _blocked(w, "a nude statue"), (
            "after 'Blocked term removed.' for 'nude', a prompt with 'nude' should go through; a second copy "
            "'Nude' stored as a different term still refuses it"
        )


async def test_spellings_of_one_term_stored_by_an_older_version_are_listed_and_all_removed(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        configs = w.bot.storage.guild_config
        for term in ("Nude", "NUDE", "nude", "nudes"):  # compared as typed, as an older version did
            assert await configs.add_term(w.guild.id, term)
        listed = await w.run("blocklist", user=staff.admin, subcommand="list")
        assert all(f"`` {term} ``" in listed.all_text() for term in ("Nude", "NUDE", "nude", "nudes"))
        removed = await w.run("blocklist", {"term": "nUdE"}, user=staff.admin, subcommand="remove")
        assert "removed" in removed.all_text()
        assert configs.get(w.guild.id).blocked_terms == ("nudes",)
        assert not await _blocked(w, "a nude statue")
        [entry] = await w.bot.storage.audit.recent(w.guild.id, action_prefix="moderation.term_removed")
        assert sorted(entry.old.splitlines()) == ["NUDE", "Nude", "nude"] and entry.new is None
        missing = await w.run("blocklist", {"term": "nude"}, user=staff.admin, subcommand="remove")
        assert "not on the blocklist" in missing.all_text()


async def test_a_term_blocked_after_a_result_refuses_its_reroll_and_upscale(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        first = await w.run("imagine", {"prompt": "a gory scene"})
        request_id = (await w.ledger_rows())[0]["id"]
        await w.run("blocklist", {"term": "gory"}, user=staff.admin, subcommand="add")
        calls = len(w.gateway.generation_requests)
        for action in ("reroll", "upscale"):
            refused = await press(w, result_message(first), action, request_id)
            assert "refused" in refused.all_text() and is_ephemeral(refused), refused.all_text()
        assert len(w.gateway.generation_requests) == calls


async def test_a_term_with_an_apostrophe_matches_the_typographic_apostrophe(tmp_path):
    # Used to let "child\u2019s body" (U+2019, what phones type) through: NFKC keeps it apart from '.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("blocklist", {"term": "child's body"}, user=staff.admin, subcommand="add")
        assert await _blocked(w, "a child's body"), "the term as typed is refused"
        assert await _blocked(w, "a child\u2019s body"), (
            "the blocked term \"child's body\" should also refuse \"child\u2019s body\" typed on a phone "
            "(typographic apostrophe)"
        )

