"""Make a series prompt say how many images it wants.

With ``sequential_image_generation: "auto"`` the model decides how many images to make, up
to ``max_images``; Ark's guidance is that the prompt should say how many. When the member's
prompt does not already mention the count (as digits, an English word or Chinese numerals),
one short sentence is appended in the prompt's own language:

    "a comic about a cat"   -> "a comic about a cat. Generate 4 images as a series."
    "一只猫的四格漫画"        -> unchanged (it says 四)
    "一只猫的漫画"           -> "一只猫的漫画。生成一组共 6 张图片。"

This text goes to the model, never to the member, so it is not in the i18n catalogs. The
sentence counts toward the model's prompt limit: `fit_series_prompt` refuses a prompt it would
take over, saying by how much (the member's prompt alone is checked by the model's catalog).
"""

from __future__ import annotations

import re

from pipeline.explain import UserError

_ENGLISH = (
    "zero", "one", "two", "three", "four", "five", "six", "seven",
    "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
)  # fmt: skip
_CHINESE = "零一二三四五六七八九十"
_CJK = re.compile(r"[\u3400-\u9fff]")


def _chinese_numeral(n: int) -> str:
    if n <= 10:
        return "两" if n == 2 else _CHINESE[n]
    return "十" + _CHINESE[n - 10]


def mentions_count(prompt: str, count: int) -> bool:
    """True when the prompt already names ``count``: "4", "four", "四"/"两" (2)."""
    if re.search(rf"(?<!\d){count}(?!\d)", prompt):
        return True
    if re.search(rf"\b{_ENGLISH[count]}\b", prompt, re.IGNORECASE):
        return True
    numerals = {_chinese_numeral(count)} | ({"二"} if count == 2 else set())
    return any(numeral in prompt for numeral in numerals)


def series_prompt(prompt: str, count: int) -> str:
    """``prompt``, with a sentence asking for ``count`` images unless it already says the number."""
    if mentions_count(prompt, count):
        return prompt
    if _CJK.search(prompt):
        return f"{prompt.rstrip('。.！!')}。生成一组共 {count} 张图片。"
    return f"{prompt.rstrip('. ')}. Generate {count} images as a series."


def fit_series_prompt(prompt: str, count: int, limit: int) -> str:
    """`series_prompt`, refused with a `UserError` the member can act on when the added sentence
    takes it over the model's `limit` of characters: the gateway never gets an over-long prompt."""
    full = series_prompt(prompt, count)
    if len(full) > limit:
        raise UserError(
            "error.series_prompt_too_long", code="prompt_too_long",
            length=f"{len(prompt):,}", count=count, extra=f"{len(full) - len(prompt):,}", limit=f"{limit:,}",
            over=f"{len(full) - limit:,}",
        )  # fmt: skip
    return full
