"""Member and gateway text echoed by the bot never renders as the bot's own markdown (masked links,
spoilers), nor carries terminal control sequences into what is logged."""

from __future__ import annotations

import re

from cogs.approval import whole_prompt
from image_gateway.errors import make_status_error
from pipeline.explain import explain
from pipeline.markdown import as_typed
from pipeline.summary import prompt_preview

# A masked link Discord renders: "[text](http..." whose "[" no backslash escapes (an even run of
# backslashes before it escapes only themselves).
_LIVE_MASKED_LINK = re.compile(r"(?<!\\)(?:\\\\)*\[[^\]\n]*\]\(\s*<?https?://")
_LIVE_SPOILER = re.compile(r"(?<!\\)\|(?<!\\\|)\|")


def test_every_masked_link_of_a_line_is_escaped():
    # discord.py's escape_markdown matches one link per line (its pattern is greedy): the second
    # one was posted as the bot's own link.
    for prompt in (
        "a cat [x](https://a.example) [free nitro](https://evil.example/claim)",
        "a [x](https://a.example) \\[y](https://evil.example)",  # a typed backslash escapes only itself
        "[a](https://b.example)[c](https://d.example)",
    ):
        shown = prompt_preview(prompt)
        assert not _LIVE_MASKED_LINK.search(shown), shown
    assert as_typed("(a) [b]") == "(a) \\[b\\]"


def test_a_link_is_shown_without_a_preview_of_what_it_points_to():
    # Discord previews a bare link under the message: under the bot's result, a picture from
    # anywhere on the web. In angle brackets it stays a link, without the preview.
    shown = as_typed("a cat like https://i.example/cat_1.gif, please")
    assert shown == "a cat like <https://i.example/cat_1.gif>, please"
    assert as_typed("(see HTTP://a.example/x).") == "(see <HTTP://a.example/x>)."
    assert as_typed("kept <https://a.example/y> as typed") == "kept <https://a.example/y> as typed"
    assert prompt_preview("两只猫 https://i.example/猫.png") == "两只猫 <https://i.example/猫.png>"


def test_a_link_with_brackets_in_it_is_wrapped_whole():
    # A wiki link was wrapped before its ")": "<https://en.wikipedia.org/wiki/Cat_(band>)" links to
    # a page that does not exist. A ")" is the link's when the link opened it.
    wiki = "https://en.wikipedia.org/wiki/Cat_(band)"
    assert as_typed(f"like {wiki}") == f"like <{wiki}>"
    assert as_typed(f"(like {wiki}).") == f"(like <{wiki}>)."
    assert as_typed("(see https://a.example/x.)") == "(see <https://a.example/x>.)"
    assert as_typed("https://a.example/f(1)?q=(2)!") == "<https://a.example/f(1)?q=(2)>!"


def test_the_review_of_a_prompt_too_long_to_escape_shows_it_in_a_code_block():
    # A 4,000-character prompt (GPT Image) whose escaped form is over an embed's 4,096 characters
    # went into the moderators' embed as typed: its masked link and spoiler rendered.
    prompt = "_" * 2100 + " [Approve me](https://evil.example/login) ||the words moderators must not miss|| ```x"
    shown = whole_prompt(prompt)
    assert len(shown) <= 4096
    assert shown.startswith("```\n") and shown.endswith("\n```") and shown.count("```") == 2
    assert "[Approve me](https://evil.example/login) ||the words moderators must not miss||" in shown
    short = whole_prompt("a [link](https://evil.example) ||hidden||")
    assert not _LIVE_MASKED_LINK.search(short) and not _LIVE_SPOILER.search(short), short


def test_a_gateways_refusal_is_shown_not_rendered():
    body = '{"error": {"code": "InvalidParameter", "message": "top up at [Billing portal](https://evil.example/pay)"}}'
    shown = explain(make_status_error(400, body, {}), "en")
    assert "Billing portal" in shown and not _LIVE_MASKED_LINK.search(shown), shown


def test_a_gateways_text_carries_no_control_characters():
    # "\x1b[1A\x1b[2K" moves the cursor up and erases the previous line of a terminal: the gateway
    # could overwrite what the operator reads (the text is logged) and what the member reads.
    body = '{"error": {"code": "InvalidParameter", "message": "bad size\\u001b[1A\\u001b[2K fake\\u0007 \\u202eok"}}'
    text = str(make_status_error(400, body, {}))
    assert "bad size" in text and not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", text), repr(text)


def test_a_direction_control_in_a_prompt_does_not_turn_the_bots_words_around():
    # An override (U+202E) or isolate a member leaves open runs to the end of the line: the bot's
    # "was rejected by Mia. You were not charged." after the prompt was drawn backwards.
    for prompt in ("a castle \u202ein the night", "\u2067right to left", "\u2069\u202bstray closer first"):
        shown = prompt_preview(prompt)
        assert not re.search("[\u202a-\u202e\u2066-\u2069]", shown), repr(shown)
    assert prompt_preview("a castle \u202ein the night") == "a castle in the night"
    assert prompt_preview("قلعة في الليل") == "قلعة في الليل"  # right-to-left text itself is kept
