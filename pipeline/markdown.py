"""Text from members and from the gateway, shown by the bot as typed: nothing renders as markdown.

`discord.utils.escape_markdown` leaves all but the first masked link of a line live (its link
pattern is greedy), so a member's second "[free nitro](https://...)" would be posted as the bot's
own link: every bracket that no backslash escapes is escaped here as well.

Nor does anything in it turn the bot's own words around: an explicit direction control (a
right-to-left override, an embedding or an isolate) runs to the end of the line in every client
when it is not closed, so "**<prompt>** was rejected by Mia. You were not charged." would read
backwards after a member's U+202E. They are invisible, and dropped; right-to-left text itself
(Arabic, Hebrew) needs none of them.

Nor is a link in it previewed: Discord would show, under the bot's images, a preview of whatever
a member's link points to (any picture from the web, past the server's blocked terms), as if it
were part of the result. Each link is put in angle brackets: still a link, without the preview.
"""

from __future__ import annotations

import re

import discord

_LIVE_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]])")  # after an even run of backslashes: not escaped
_DIRECTION_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])  # LRE..RLO, LRI..PDI
# A link as Discord finds one in text (wherever "http" starts one: after Chinese text or "_" too),
# with the angle brackets that may already wrap it (which leave it as it is only when both are
# there). The punctuation that ends a sentence, and a ")" that closes a bracket around the link
# rather than one in it (".../wiki/Cat_(band)"), are taken off its end by `_without_preview`.
_LINK = re.compile(r"(<)?(https?://[^\s<>]*[^\s<>.,;:!?\]'\"])(>)?", re.IGNORECASE)
_NOT_LINK_END = ".,;:!?)]'\""


def as_typed(text: str) -> str:
    """`text` escaped so that Discord shows it as typed: no bold, spoiler, heading or masked link,
    no preview of a link, and no direction control left open to turn what follows it around."""
    escaped = _LIVE_BRACKET.sub(r"\1\\\2", discord.utils.escape_markdown(text.translate(_DIRECTION_CONTROLS)))
    return _LINK.sub(_without_preview, escaped)


def _without_preview(link: re.Match[str]) -> str:
    opened, address, closed = link.groups()
    if opened and closed:
        return link[0]
    cut = len(address)
    while address[cut - 1] in _NOT_LINK_END and (
        address[cut - 1] != ")" or address.count(")", 0, cut) > address.count("(", 0, cut)
    ):
        cut -= 1
    if address[:cut].endswith("://"):
        return link[0]  # nothing left of it to link
    return f"{opened or ''}<{address[:cut]}>{address[cut:]}{closed or ''}"
