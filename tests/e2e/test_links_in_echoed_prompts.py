"""Links in an echoed prompt are put in angle brackets (pipeline/markdown.py as_typed), so that
Discord shows no preview of them under the bot's images.

Discord finds a link wherever "http(s)://" starts, also right after a letter, a CJK character or an
escaped underscore (its text rule stops before any `\\w+:\\S`), and `<...>` suppresses the preview
only when the bracket is closed."""

from __future__ import annotations

import re

from tests.e2e.harness import world

SUPPRESS_EMBEDS = 1 << 2
URL = re.compile(r"https?://[^\s<]+[^<.,:;\"')\]\s]")  # Discord's own autolink rule
WRAPPED = re.compile(r"<https?://[^ >]+>")  # Discord's <...> link: no preview


def live_links(w, marker: str) -> list[str]:
    """The links the bot posted (reply edits, follow-ups, channel messages) that Discord would
    preview: bare ones, not in a closed `<...>`, in messages without SUPPRESS_EMBEDS."""
    live = []
    for r in w.discord.requests:
        if r.method not in ("POST", "PATCH") or not isinstance(r.json, dict):
            continue
        body = r.json.get("data") if r.path.endswith("/callback") else r.json
        content = (body or {}).get("content") or ""
        if marker not in content or ((body or {}).get("flags") or 0) & SUPPRESS_EMBEDS:
            continue
        wrapped = [m.span() for m in WRAPPED.finditer(content)]
        for match in URL.finditer(content):
            if not any(start < match.start() < end for start, end in wrapped):
                live.append(f"{r.method} {r.path[:40]}: …{content[max(0, match.start() - 8) : match.end() + 2]}…")
    return live


async def test_a_link_written_right_after_chinese_text_is_not_previewed(tmp_path):
    # A Chinese member writes no space before a link ("参考https://..."); nor is there a word
    # boundary after "cat_". Discord links (and previews) them all the same: they are wrapped too.
    prompt = "参考https://i.imgur.com/abcd123.gif的风格画一只猫，还有 cat_https://i.imgur.com/efgh456.gif"
    async with world(tmp_path) as w:
        inter = await w.run("imagine", {"prompt": prompt}, locale="zh-CN")
        assert len(inter.files()) == 1, inter.all_text()
        assert live_links(w, "imgur") == [], "echoed as live links that Discord previews"


async def test_a_link_after_an_unclosed_angle_bracket_is_not_previewed(tmp_path):
    # "<https://..." never closed suppresses nothing: a link is wrapped already only when its ">"
    # follows too.
    prompt = "a fox in the style of <https://i.imgur.com/abcd123.gif please"
    async with world(tmp_path) as w:
        inter = await w.run("imagine", {"prompt": prompt})
        assert len(inter.files()) == 1, inter.all_text()
        assert live_links(w, "imgur") == [], "echoed as a live link that Discord previews"


async def test_links_with_markdown_around_them_are_wrapped_and_the_markdown_shown(tmp_path):
    # A masked link, a spoilered link and a bolded one are all echoed without a
    # preview, their markdown escaped (nothing renders as the bot's own link or spoiler).
    prompt = "[free nitro](https://i.imgur.com/abcd123.gif) ||https://i.imgur.com/x.gif|| **https://i.imgur.com/y.gif**"
    async with world(tmp_path) as w:
        inter = await w.run("imagine", {"prompt": prompt})
        assert len(inter.files()) == 1, inter.all_text()
        assert live_links(w, "imgur") == []
        header = inter.messages[0]["content"].splitlines()[0]
        assert "\\[free nitro\\](<https://i.imgur.com/abcd123.gif>)" in header, header
        assert "\\|\\|<https://i.imgur.com/x.gif" in header, header
