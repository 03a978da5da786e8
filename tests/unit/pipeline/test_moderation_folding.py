"""Blocked terms: typographic quotes and dashes read as the ASCII ones, and when two terms are one
(`term_key`), which /blocklist add and remove compare by."""

from __future__ import annotations

import unicodedata

import pytest

from pipeline.moderation import compile_term, is_blocked, normalize, term_key
from storage import open_storage

GUILD = 1
_DASH_CHARS = "\u2010\u2011\u2012\u2013\u2014\u2212"


@pytest.mark.parametrize(
    ("typed", "ascii"),
    [
        ("child\u2019s", "child's"),  # right single quotation mark: what phones type
        ("\u2018quoted\u2019", "'quoted'"),
        ("child\u02bcs", "child's"),  # modifier letter apostrophe
        ("child\uff07s", "child's"),  # full-width (NFKC)
        ("\u201anude\u201b", "'nude'"),
        ("\u201cnude\u201d", '"nude"'),
        ("\u201enude\u201f", '"nude"'),
        ("x\u2010rated", "x-rated"),  # hyphen
        ("x\u2011rated", "x-rated"),  # non-breaking hyphen
        ("x\u2012rated", "x-rated"),  # figure dash
        ("x\u2013rated", "x-rated"),  # en dash
        ("x\u2014rated", "x-rated"),  # em dash ("--" on a phone)
        ("x\u2212rated", "x-rated"),  # minus sign
        ("x\ufe63rated", "x-rated"),  # small hyphen-minus (NFKC)
    ],
)
def test_typographic_quotes_and_dashes_are_the_ascii_ones(typed, ascii):
    assert normalize(typed) == ascii
    # What a pattern sees: its quotes are read as ASCII, its dashes as typed (a dash may make a range).
    unfolded = unicodedata.normalize("NFKC", typed)
    assert normalize(typed, fold=False) == (unfolded if any(c in _DASH_CHARS for c in unfolded) else ascii)
    assert is_blocked(f"a {typed} thing", [ascii])
    assert is_blocked(f"a {ascii} thing", [typed])


@pytest.mark.parametrize(
    ("prompt", "terms", "blocked"),
    [
        ("a child\u2019s toy", ["re:child's"], True),  # a pattern sees the prompt folded
        ("a child's toy", ["re:child\u2019s"], True),  # and its quotes are read the same way
        ("a \u201cnude\u201d", ['re:"nude"'], True),
        ("an x\u2013rated film", ["re:x-rated"], True),
        ("an x\u2013rated film", ["re:x\u2013rated"], True),  # a dash in a pattern is as typed
        ("b", ["re:[a\u2013c]"], False),  # not a range from a to c
        ("\u2013", ["re:[a\u2013c]"], True),
        ("a childs toy", ["child's"], False),
        ("a child\u2019s toy", ["children"], False),
    ],
)
def test_quotes_and_dashes_in_patterns_and_words(prompt, terms, blocked):
    assert is_blocked(prompt, terms) is blocked


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("nude", "NUDE"),
        ("nude", " Nude "),
        ("nude", "ＮＵＤＥ"),
        ("nude", "nu\u200bde"),
        ("straße", "STRASSE"),
        ("naked woman", "Naked   Woman"),
        ("child's body", "CHILD\u2019S BODY"),
        ("裸体", "裸 体"),  # a CJK term is matched without its spaces
        ("re:g[o0]re", "re:g[o0]re"),
    ],
)
def test_spellings_of_one_term_have_one_key(one, other):
    assert term_key(one) == term_key(other)
    assert compile_term(one).pattern == compile_term(other).pattern  # they match the same prompts


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("re:g[o0]re", "re:G[O0]RE"),  # a regular expression is compared as typed
        ("re:gore", "gore"),
        ("re:x", "ｒｅ:x"),  # the word "re:x" (full-width letters are no prefix) is not the pattern
        ("nude", "nudes"),
        ("naked woman", "nakedwoman"),  # a Latin phrase keeps its space
    ],
)
def test_different_terms_have_different_keys(one, other):
    assert term_key(one) != term_key(other)


async def test_the_store_compares_terms_by_the_key_it_is_given():
    async with open_storage("sqlite:///:memory:") as storage:
        configs = storage.guild_config
        assert await configs.add_term(GUILD, "Nude", key=term_key)
        assert not await configs.add_term(GUILD, "NUDE", key=term_key)
        assert await configs.add_term(GUILD, "nude")  # without a key, compared as typed
        assert await configs.add_term(GUILD, "nudes", key=term_key)
        assert configs.get(GUILD).blocked_terms == ("Nude", "nude", "nudes")  # as typed
        assert await configs.remove_term(GUILD, "ＮＵＤＥ", key=term_key) == ("Nude", "nude")
        assert configs.get(GUILD).blocked_terms == ("nudes",)
        assert await configs.remove_term(GUILD, "nude", key=term_key) == ()
        assert await configs.remove_term(GUILD, "NUDES") == ()  # without a key, as typed
        assert await configs.remove_term(GUILD, "nudes") == ("nudes",)
        assert configs.get(GUILD).blocked_terms == ()
        await configs.load()  # what was written is what is read back
        assert configs.get(GUILD).blocked_terms == ()


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("re:child's", "re:child\u2019s"),  # compile_term reads a pattern's curly quote as the ASCII one
        ("re:nude", "RE:nude"),  # is_regex takes the prefix in any case
        ("re:nude", "re: nude"),  # compile_term strips the pattern after the prefix
        ("re:nude", "re:\uff4e\uff55\uff44\uff45"),  # and NFKC-normalizes it
    ],
)
def test_spellings_of_one_pattern_have_one_key(one, other):  # they used to be keyed as typed: two terms
    assert compile_term(one).pattern == compile_term(other).pattern  # the same pattern, the same prompts
    assert term_key(one) == term_key(other)


async def test_removing_a_pattern_leaves_no_spelling_of_it_blocking():
    async with open_storage("sqlite:///:memory:") as storage:
        configs = storage.guild_config
        assert await configs.add_term(GUILD, "re:child\u2019s", key=term_key)  # typed on a phone
        # Added again from a desktop: should be "already on the list", like the words.
        added_again = await configs.add_term(GUILD, "re:child's", key=term_key)
        assert not added_again
        await configs.remove_term(GUILD, "re:child's", key=term_key)  # the admin is told "removed"
        assert not is_blocked("a child's toy", configs.get(GUILD).blocked_terms), configs.get(GUILD).blocked_terms


def test_a_pattern_with_a_curly_quote_still_matches_the_prompt_typed_the_same_way():
    # The pattern's quote is read as ASCII, so the unfolded text's is too (the folded text has "ss").
    assert is_blocked("Stra\u00dfe\u2019s end", ["re:stra\u00dfe\u2019s"])
