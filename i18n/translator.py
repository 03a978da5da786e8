"""discord.py's translator for the command tree: names, descriptions, options and choices.

Set with ``await bot.tree.set_translator(CatalogTranslator())`` before the tree is synced; the
localized names and descriptions then travel in the synced payload (``name_localizations``...).
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from i18n import commands

NAME_LOCATIONS = frozenset({Where.command_name, Where.group_name, Where.parameter_name})
CATALOGS: dict[discord.Locale, tuple[dict[str, str], dict[str, str]]] = {
    discord.Locale.chinese: (commands.NAMES, commands.TEXTS),  # zh-CN
    # zh-TW members are answered in Chinese (i18n.language): their commands read in it too, not in
    # English with replies naming options they never saw.
    discord.Locale.taiwan_chinese: (commands.NAMES, commands.TEXTS),
}


class CatalogTranslator(app_commands.Translator):
    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContext
    ) -> str | None:
        catalog = CATALOGS.get(locale)
        if catalog is None:
            return None
        names, texts = catalog
        return (names if context.location in NAME_LOCATIONS else texts).get(string.message)
