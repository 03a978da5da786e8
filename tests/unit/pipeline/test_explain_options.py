"""Every refusal the model catalog can raise has its own sentence in every language."""

from __future__ import annotations

import re

import pytest

from i18n import CATALOGS
from image_gateway.catalog import (
    GPT_IMAGE_1_5,
    GPT_IMAGE_2,
    SEEDEDIT_3_I2I,
    SEEDREAM_3_T2I,
    SEEDREAM_4_5,
    InvalidOptionError,
)
from image_gateway.presets import get_preset
from pipeline.explain import explain

REFUSALS = {
    "size-not-a-size": lambda: SEEDREAM_4_5.normalize_size("abc"),
    "size-empty": lambda: SEEDREAM_4_5.normalize_size("0x0"),
    "size-too-few-pixels": lambda: SEEDREAM_4_5.normalize_size("1024x1024"),
    "size-too-many-pixels": lambda: SEEDREAM_4_5.normalize_size("9999x9999"),
    "size-too-wide": lambda: SEEDREAM_4_5.normalize_size("16000x900"),
    "size-side-too-small": lambda: SEEDREAM_3_T2I.normalize_size("256x256"),
    "size-side-too-large": lambda: SEEDREAM_3_T2I.normalize_size("4096x1024"),
    "size-not-accepted": lambda: GPT_IMAGE_1_5.normalize_size("2048x2048"),
    "size-not-multiple": lambda: GPT_IMAGE_2.normalize_size("1000x1000"),
    "size-too-wide-3-to-1": lambda: GPT_IMAGE_2.normalize_size("2560x816"),
    "seed-not-supported": lambda: SEEDREAM_4_5.validate_seed(5),
    "seed-out-of-range": lambda: SEEDREAM_3_T2I.validate_seed(-2),
    "guidance-not-supported": lambda: SEEDREAM_4_5.validate_guidance(5.0),
    "guidance-out-of-range": lambda: SEEDEDIT_3_I2I.validate_guidance(20.0),
    "images-none": lambda: SEEDREAM_3_T2I.validate_reference_count(1),
    "images-exactly": lambda: SEEDEDIT_3_I2I.validate_reference_count(2),
    "images-range": lambda: SEEDREAM_4_5.validate_reference_count(15),
    "series-not-supported": lambda: SEEDREAM_3_T2I.validate_series(3),
    "series-range": lambda: SEEDREAM_4_5.validate_series(1),
    "series-range-references": lambda: SEEDREAM_4_5.validate_series(9, 10),
    "prompt-empty": lambda: SEEDREAM_4_5.validate_prompt("\u200b "),
    "prompt-too-long": lambda: SEEDREAM_4_5.validate_prompt("a" * 2001),
    "model-not-offered": lambda: get_preset("gogogotoken-ai").model("dall-e-3"),
}
# values the member typed or picked, which stay as they are in every language
VALUES = re.compile(r"`[^`]*`|Seed(?:ream|Edit) [\d.]+(?: Lite)?|GPT Image [\d.]+|doubao-[\w.-]+|\bauto\b|\b\d+K\b")


@pytest.mark.parametrize("case", list(REFUSALS))
def test_every_refusal_has_a_sentence_and_reads_wholly_in_chinese(case):
    with pytest.raises(InvalidOptionError) as caught:
        REFUSALS[case]()
    error = caught.value
    assert f"option.{error.option}.{error.reason}" in CATALOGS["en"]
    assert f"option.name.{error.option}" in CATALOGS["en"]
    zh, en = explain(error, "zh-CN"), explain(error, "en-US")
    assert re.findall(r"[A-Za-z]{3,}", VALUES.sub("", zh)) == [], zh
    assert "can't be used" in en and len(en) < 300, en


def test_a_reason_without_a_sentence_falls_back_to_the_english_detail():
    error = InvalidOptionError("size", "is odd today", "brand_new_reason")
    assert explain(error, "en-US") == "That size can't be used: is odd today"
