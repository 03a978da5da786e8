"""Every user-facing sentence, one catalog per language.

`t(key, locale, **params)` picks the catalog from the interaction's locale (falling back to
the server's), then formats the sentence. English is the reference catalog; a key missing
from another language falls back to English rather than failing.
"""

from __future__ import annotations

import string

from i18n import en, zh_cn

CATALOGS: dict[str, dict[str, str]] = {"en": en.TEXTS, "zh-CN": zh_cn.TEXTS}


def language(locale: object | None, fallback: object | None = None) -> str:
    """The catalog for a Discord locale (`discord.Locale` or its string value).

    The member's locale chooses when there is a catalog for it (zh-CN/zh-TW -> Chinese, en-* ->
    English); otherwise the server's locale (`fallback`) does; otherwise English.
    """
    for candidate in (locale, fallback):
        value = str(getattr(candidate, "value", candidate) or "").lower()
        if value.startswith("zh"):
            return "zh-CN"
        if value.startswith("en"):
            return "en"
    return "en"


def locale_of(interaction: object) -> str:
    """The language for an interaction: its locale, the server's (`guild_locale`) as the fallback."""
    return language(getattr(interaction, "locale", None), getattr(interaction, "guild_locale", None))


class Listing(tuple):
    """A parameter of `t` that is a list: joined with the reader's list separator ("a, b"; "甲、乙")."""


class _Plurals(string.Formatter):
    """`{n:image|images}` is the word for the number `n` (an int, or a number already written out):
    the first for 1, the second otherwise (English; Chinese words do not change with a number)."""

    def format_field(self, value: object, format_spec: str) -> str:
        if "|" in format_spec:
            one, other = format_spec.split("|", 1)
            return one if str(value) == "1" else other
        return super().format_field(value, format_spec)


_PLURALS = _Plurals()


def t(key: str, locale: object | None = None, fallback: object | None = None, /, **params: object) -> str:
    lang = language(locale, fallback)
    text = CATALOGS[lang].get(key) or en.TEXTS[key]
    if not params:
        return text
    separator = CATALOGS[lang].get("list.separator") or en.TEXTS["list.separator"]
    values = {k: separator.join(map(str, v)) if isinstance(v, Listing) else v for k, v in params.items()}
    return _PLURALS.vformat(text, (), values)
