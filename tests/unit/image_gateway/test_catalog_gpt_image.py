"""gpt-image-2's custom sizes (xmsmartlink: "auto, and custom sizes for gpt-image-2"), under
OpenAI's rules: sides in multiples of 16, the longest at most 3840, at most 3:1, and 655,360 to
8,294,400 pixels. gpt-image-1.5 keeps its three fixed sizes and auto."""

from __future__ import annotations

import pytest

from image_gateway.catalog import GPT_IMAGE_1_5, GPT_IMAGE_2, InvalidOptionError
from pipeline.explain import explain


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("2048x2048", "2048x2048"),
        ("2048 x 1152", "2048x1152"),
        ("3840x2160", "3840x2160"),  # the largest side, 16:9
        ("2160x3840", "2160x3840"),
        ("1024x768", "1024x768"),
        ("2400x800", "2400x800"),  # exactly 3:1
        ("1024x640", "1024x640"),  # exactly 655,360 pixels
        ("1024x1536", "1024x1536"),  # the fixed sizes still work
        ("auto", "auto"),
    ],
)
def test_gpt_image_2_takes_custom_sizes_within_openais_rules(size, expected):
    assert GPT_IMAGE_2.normalize_size(size) == expected


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        ("1000x1000", "not_multiple"),
        ("2048x1150", "not_multiple"),
        ("4096x2048", "side_too_large"),  # a side over 3840
        ("3840x3840", "too_many_pixels"),  # 14,745,600 > 8,294,400
        ("800x800", "too_few_pixels"),  # 640,000 < 655,360
        ("2560x816", "too_wide"),  # just over 3:1
        ("0x1024", "empty"),
        ("2K", "not_accepted"),  # a size, only not one this model makes
    ],
)
def test_gpt_image_2_refuses_sizes_outside_the_rules(size, reason):
    with pytest.raises(InvalidOptionError) as info:
        GPT_IMAGE_2.normalize_size(size)
    assert (info.value.option, info.value.reason) == ("size", reason)


def test_the_member_reads_why_a_custom_size_is_refused_in_both_languages():
    with pytest.raises(InvalidOptionError) as info:
        GPT_IMAGE_2.normalize_size("1000x1000")
    english = explain(info.value, "en-US")
    assert "1000x1000" in english and "multiple of 16" in english and "8,294,400" in english, english
    chinese = explain(info.value, "zh-CN")
    assert "16 像素的整数倍" in chinese, chinese
    with pytest.raises(InvalidOptionError) as info:
        GPT_IMAGE_2.normalize_size("2560x816")
    assert "3 times" in explain(info.value, "en-US")


def test_gpt_image_1_5_keeps_only_its_fixed_sizes():
    with pytest.raises(InvalidOptionError) as info:
        GPT_IMAGE_1_5.normalize_size("2048x2048")
    assert info.value.reason == "not_accepted"
