"""Text from members and from the gateway, shown by the bot as typed: nothing renders as markdown.

`discord.utils.escape_markdown` leaves all but the first masked link of a line live (its link
pattern is greedy), so a member's second "[free nitro](https://...)" would be posted as the bot's
own link: every bracket that no backslash escapes is escaped here as well.
"""

from __future__ import annotations

import re

import discord

_LIVE_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]])")  # after an even run of backslashes: not escaped


def as_typed(text: str) -> str:
    """`text` escaped so that Discord shows it as typed: no bold, spoiler, heading or masked link."""
    return _LIVE_BRACKET.sub(r"\1\\\2", discord.utils.escape_markdown(text))
