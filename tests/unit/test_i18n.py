"""The catalogs: complete in both languages, valid for Discord, and the only source of user-facing text."""

from __future__ import annotations

import ast
import re
import string
import unicodedata
from pathlib import Path

import discord
import pytest
from discord.app_commands import TranslationContext, TranslationContextLocation, locale_str

from i18n import CATALOGS, commands, language, t
from i18n.translator import CatalogTranslator

ROOT = Path(__file__).resolve().parents[2]
NAME_EXTRA = set("-_'")
ALLOWED_WORDS = {  # names and abbreviations that are the same in Chinese text
    "discord", "seedream", "seededit", "gpt", "csv", "utc", "usd", "png", "jpeg", "jpg", "webp", "gif",
    "bmp", "tiff", "heic", "heif", "avif", "url", "api", "everyone", "here", "true", "false", "env",
    "matplotlib",
}


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_every_key_is_in_both_catalogs_with_the_same_placeholders():
    en, zh = CATALOGS["en"], CATALOGS["zh-CN"]
    assert set(en) == set(zh), {"only en": set(en) - set(zh), "only zh": set(zh) - set(en)}
    different = {key: (placeholders(en[key]), placeholders(zh[key])) for key in en
                 if placeholders(en[key]) != placeholders(zh[key])}
    assert different == {}


def test_english_counts_take_the_word_for_their_number():
    # "1 image(s)" under every result read as a form letter: a number says its own word.
    assert t("result.images", "en", count=1) == "1 image"
    assert t("result.images", "en", count=4) == "4 images"
    assert t("result.images", "en", count=0) == "0 images"
    assert t("quota.daily", "en", count="1,000") == "1,000 images a day"  # a number already written out
    assert t("result.images", "zh-CN", count=1) == "1 张图片"
    one = t("queue.member_busy", "en", limit=1)
    assert one.startswith("You already have 1 request waiting or running. Please wait until it finishes"), one
    assert not [key for key, text in CATALOGS["en"].items() if "(s)" in text]


def test_the_chinese_catalog_is_chinese():
    """No English words left in the zh-CN catalog (placeholders, /commands, `code` and names aside)."""
    english = {key: leftover for key, text in CATALOGS["zh-CN"].items() if (leftover := english_words(text))}
    assert english == {}
    assert english_words("已删除 Deleted {count} /imagine `re:x`") == {"Deleted"}


def english_words(text: str) -> set[str]:
    text = re.sub(r"\{[^}]*\}|/[\w-]+|`[^`]*`|<[^>]*>", "", text)
    return {w for w in re.findall(r"[A-Za-z]{3,}", text) if w.lower() not in ALLOWED_WORDS}


@pytest.mark.parametrize(
    ("locale", "fallback", "expected"),
    [
        ("zh-CN", None, "zh-CN"),
        ("zh-TW", "en-US", "zh-CN"),
        (discord.Locale.chinese, None, "zh-CN"),
        ("en-US", "zh-CN", "en"),  # the member's own language wins
        ("fr", "zh-CN", "zh-CN"),  # no French catalog: the server's language
        ("fr", "de", "en"),
        (None, "zh-CN", "zh-CN"),
        (None, None, "en"),
    ],
)
def test_the_members_locale_chooses_and_the_servers_is_the_fallback(locale, fallback, expected):
    assert language(locale, fallback) == expected


def test_t_takes_the_servers_locale_as_fallback():
    assert t("buttons.deleted", "fr", "zh-CN") == "已删除。"
    assert t("buttons.deleted", "en-GB", "zh-CN") == "Deleted."
    assert t("result.images", "zh-CN", count=3) == "3 张图片"


def _valid_slash_name(name: str) -> bool:
    return (
        1 <= len(name) <= 32
        and name == name.lower()
        and all(c in NAME_EXTRA or unicodedata.category(c)[0] in "LN" for c in name)
    )


def test_localized_names_are_valid_for_discord():
    for source, name in commands.NAMES.items():
        if " " in source or source != source.lower():  # a context-menu name: spaces and capitals allowed
            assert 1 <= len(name) <= 32, source
        else:
            assert _valid_slash_name(name), (source, name)
    for source, text in commands.TEXTS.items():
        assert 1 <= len(text) <= 100, source  # descriptions and choice names: 1-100 characters


async def test_translator_answers_zh_cn_only_and_keeps_names_apart_from_texts():
    translator = CatalogTranslator()
    name = TranslationContext(TranslationContextLocation.command_name, None)
    choice = TranslationContext(TranslationContextLocation.choice_name, None)
    assert await translator.translate(locale_str("imagine"), discord.Locale.chinese, name) == "画图"
    assert await translator.translate(locale_str("imagine"), discord.Locale.french, name) is None
    assert await translator.translate(locale_str("model"), discord.Locale.chinese, name) == "模型"
    assert await translator.translate(locale_str("model"), discord.Locale.chinese, choice) == "按模型"


# -- nothing user-facing outside the catalogs ------------------------------------------------
SENDERS = {"send_message", "send", "edit_original_response", "edit_message", "edit", "reply", "send_modal"}
TEXT_KEYWORDS = {"content", "title", "label", "placeholder", "description"}
UI_CLASSES = {"Modal", "TextInput", "Button", "Embed", "Select", "SelectOption"}


def _is_text_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(c.isalpha() for c in node.value)
    if isinstance(node, ast.JoinedStr):
        return any(_is_text_literal(v) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _is_text_literal(node.left) or _is_text_literal(node.right)
    return False


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def literal_texts(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node)
        if name in SENDERS:
            found += [(node.lineno, name) for arg in node.args[:1] if _is_text_literal(arg)]
        if name in SENDERS or name in UI_CLASSES:
            found += [(node.lineno, f"{name}({kw.arg}=)") for kw in node.keywords
                      if kw.arg in TEXT_KEYWORDS and _is_text_literal(kw.value)]
    return found


def test_the_literal_scan_finds_literals():
    assert literal_texts('await i.response.send_message("Done!", ephemeral=True)')
    assert literal_texts('await m.edit(content=f"{n} images left")')
    assert literal_texts('discord.ui.Button(label="Cancel")')
    assert not literal_texts('await i.response.send_message(t("buttons.deleted", lang))')
    assert not literal_texts('await i.edit_original_response(content=f"**{title}**")')


def test_cogs_and_pipeline_send_no_literal_text():
    offenders = []
    for folder in ("cogs", "pipeline"):
        for path in sorted((ROOT / folder).glob("*.py")):
            offenders += [f"{folder}/{path.name}:{line} {what}" for line, what in literal_texts(path.read_text())]
    assert offenders == []
