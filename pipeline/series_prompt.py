"""Make a series prompt say how many images it wants.

With ``sequential_image_generation: "auto"`` the model decides how many images to make, up
to ``max_images``; Ark's guidance is that the prompt should say how many. The prompt states a
count only where a number stands next to a word for images ("4 images", "four panels",
"四张", "两幅", "四格"): a number elsewhere is about something else ("two cats", "a 4K
storyboard", "4:3 postcards", "十分可爱", "二次元"). Unless the prompt states the count, one
short sentence is appended in the prompt's own language:

    "a comic about a cat"   -> "a comic about a cat. Generate 4 images as a series."
    "a 4-panel cat comic"   -> unchanged (count 4)
    "一只猫的四格漫画"        -> unchanged (count 4)
    "一只猫的漫画"           -> "一只猫的漫画。生成一组共 6 张图片。"

A prompt that asks for another number of images than the member chose ("Create 3 images"
with count 5) gets the sentence too: the `count` option is the member's explicit choice (and
``max_images`` holds the model to it). Images the prompt points at ("the 2 pictures", "这两张")
and ordinals ("第二张") are not a count.

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
_DIGITS = "零一二三四五六七八九"
_CJK = re.compile(r"[\u3400-\u9fff]")

_IMAGE_WORDS = (
    r"images?|pictures?|pics?|panels?|photos?|photographs?|illustrations?|drawings?|artworks?"
    r"|frames?|versions?|variations?"
)
# "3 images", "four comic panels", "a 4-panel strip"; not "the 2 images" (images the prompt
# points at, e.g. the references), nor "4K images" or "16:9 images" (no separate number).
_ENGLISH_COUNT = re.compile(
    rf"(?<![\w.:/×])(?<!the )(?<!these )(?<!those )(?<!both )(?<!my )(?<!your )"
    rf"(\d{{1,2}}|{'|'.join(_ENGLISH)})(?![\w.:/×])"
    rf"(?:[\s-]+[a-z]+)?[\s-]+(?:{_IMAGE_WORDS})\b",
    re.IGNORECASE,
)
# "四张", "4 张", "两幅", "十二格", "三个组"; not "第二张" (an ordinal), "这两张", "每张".
_CHINESE_COUNT = re.compile(r"(?<![第这那每\d])([零一二两三四五六七八九十]+|\d{1,2})\s*个?\s*[张幅组格]")


def _chinese_value(numeral: str) -> int | None:
    """12 for "十二", 2 for "两" or "2"; None for what is not a plain number up to 99."""
    if numeral.isdigit():
        return int(numeral)
    numeral = numeral.replace("两", "二")
    tens, ten, ones = numeral.partition("十")
    if not ten:
        return _DIGITS.index(numeral) if len(numeral) == 1 else None
    if len(tens) > 1 or len(ones) > 1 or not set(tens + ones) <= set(_DIGITS):  # "十十": no number
        return None
    return (_DIGITS.index(tens) if tens else 1) * 10 + (_DIGITS.index(ones) if ones else 0)


def stated_counts(prompt: str) -> list[int]:
    """Every number of images the prompt asks for, in order: [3] for "Create 3 images"."""
    found: list[tuple[int, int]] = []
    for match in _ENGLISH_COUNT.finditer(prompt):
        word = match[1].lower()
        found.append((match.start(), int(word) if word.isdigit() else _ENGLISH.index(word)))
    for match in _CHINESE_COUNT.finditer(prompt):
        value = _chinese_value(match[1])
        if value is not None:
            found.append((match.start(), value))
    return [value for _, value in sorted(found)]


def mentions_count(prompt: str, count: int) -> bool:
    """True when the prompt already asks for ``count`` images ("4 images", "四张"), or for
    parts that add up to it ("3 images of cats and 2 of dogs" is not; "3 images ... 2 images" is)."""
    stated = stated_counts(prompt)
    return count in stated or (len(stated) > 1 and sum(stated) == count)


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
