"""A prompt with right-to-left override characters, shown back by the bot in
a line that goes on with the bot's own words (who decided, what was charged, which images)."""

from __future__ import annotations

from tests.e2e.harness import world
from tests.e2e.staff import add_staff, eventually
from tests.e2e.test_approval import review_message

OPENERS = {"\u202a", "\u202b", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068"}  # LRE RLE LRO RLO LRI RLI FSI
CLOSERS = {"\u202c", "\u2069"}  # PDF PDI


def lines_reordered_after(text: str, marker: str) -> list[str]:
    """Lines holding `marker` (a word of the member's prompt) where a directional override or
    embedding the member opened is still open at the end of the prompt and the bot's own words
    follow it on the same line: Unicode's bidi algorithm shows those words reversed (an override
    runs to the end of the paragraph)."""
    bad = []
    for line in text.splitlines():
        at = line.find(marker)
        if at < 0:
            continue
        end = at + len(marker)
        opened = 0
        for char in line[:end]:
            if char in OPENERS:
                opened += 1
            elif char in CLOSERS and opened:
                opened -= 1
        rest = line[end:].replace("*", "").strip()
        if opened and rest:
            bad.append(line)
    return bad


PROMPT = "a castle \u202ein the night MARK"  # the member's "in the night MARK" shown right to left, as typed


async def test_a_withdrawal_told_in_the_channel_is_not_reversed_by_the_members_prompt(tmp_path, monkeypatch):
    # "<@alice>, your image request **a castle \u202e... MARK** was withdrawn: ...": were the member's
    # override never closed, "was withdrawn: its review message was removed..." would be drawn
    # reversed in everyone's client. README: the prompt is shown "as typed"; the bot's words after
    # it should stay the bot's (the controls are dropped from the preview).
    monkeypatch.setattr("cogs.approval.ORPHAN_SWEEP_SECONDS", 0.2)
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                    subcommand="approval")
        await w.run("imagine", {"prompt": PROMPT})
        w.discord.messages[int(review_message(w, staff)["id"])].deleted = True  # a moderator tidied up
        await eventually(lambda: any("withdrawn" in (m.get("content") or "")
                                     for m in w.discord.channel_messages(w.channel)))
        text = "\n".join(m.get("content") or "" for m in w.discord.channel_messages(w.channel))
        assert "MARK" in text
        assert lines_reordered_after(text, "MARK") == [], text


async def test_the_second_message_of_a_chinese_series_is_not_reversed_by_the_members_prompt(tmp_path):
    # zh-CN: "**{prompt}** 的第 11–12 张": the image numbers come after the prompt on its line.
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("series", {"prompt": PROMPT, "count": 12}, locale="zh-CN", timeout=60)
        assert len(inter.files()) == 12, inter.all_text()
        assert lines_reordered_after(inter.all_text(), "MARK") == [], inter.all_text()
