from dataclasses import replace
from decimal import Decimal

import pytest

from image_gateway.catalog import (
    BUILTIN_MODELS,
    GPT_IMAGE_1_5,
    GPT_IMAGE_2,
    SEEDEDIT_3_I2I,
    SEEDREAM_3_T2I,
    SEEDREAM_4_0,
    SEEDREAM_4_5,
    SEEDREAM_5_0,
    InvalidOptionError,
)
from image_gateway.money import format_usd, usd_to_micros


@pytest.mark.parametrize(
    ("spec", "size", "expected"),
    [
        (SEEDREAM_4_5, "2k", "2K"),
        (SEEDREAM_4_5, " 4K ", "4K"),
        (SEEDREAM_4_5, "2048x2048", "2048x2048"),
        (SEEDREAM_4_5, "2048 × 2048", "2048x2048"),
        (SEEDREAM_4_5, "2560*1440", "2560x1440"),
        (SEEDREAM_4_5, "4096X4096", "4096x4096"),
        (SEEDREAM_4_5, None, "2048x2048"),
        (SEEDREAM_4_0, "1k", "1K"),
        (SEEDREAM_4_0, "1024x1024", "1024x1024"),
        (SEEDREAM_5_0, "3k", "3K"),
        (SEEDREAM_5_0, "3200x3200", "3200x3200"),
        (SEEDREAM_3_T2I, "512x512", "512x512"),
        (SEEDREAM_3_T2I, "2048x2048", "2048x2048"),
        (SEEDREAM_3_T2I, None, "1024x1024"),
        (SEEDEDIT_3_I2I, "Adaptive", "adaptive"),
        (SEEDEDIT_3_I2I, None, "adaptive"),
        (GPT_IMAGE_2, "1536 x 1024", "1536x1024"),
        (GPT_IMAGE_2, "AUTO", "auto"),
    ],
)
def test_valid_sizes_normalize(spec, size, expected):
    assert spec.normalize_size(size) == expected


@pytest.mark.parametrize(
    ("spec", "size"),
    [
        (SEEDREAM_4_5, "0x0"),
        (SEEDREAM_4_5, "99999x99999"),
        (SEEDREAM_4_5, "abc"),
        (SEEDREAM_4_5, ""),
        (SEEDREAM_4_5, "1K"),
        (SEEDREAM_4_5, "1024x1024"),  # under 3,686,400 pixels
        (SEEDREAM_4_5, "8193x512"),  # pixels in range, just over 16:1
        (SEEDREAM_4_0, "16000x100"),  # aspect 160:1
        (SEEDREAM_5_0, "4K"),
        (SEEDREAM_5_0, "4096x4096"),  # over 10,404,496 pixels
        (SEEDREAM_3_T2I, "2K"),
        (SEEDREAM_3_T2I, "4096x1024"),  # side over 2048
        (SEEDREAM_3_T2I, "256x256"),
        (SEEDEDIT_3_I2I, "1024x1024"),
        (GPT_IMAGE_2, "4096x2048"),  # a side over 3840
        (SEEDREAM_4_5, "2048x2048x2048"),
    ],
)
def test_invalid_sizes_refused_with_allowed_values(spec, size):
    with pytest.raises(InvalidOptionError) as info:
        spec.normalize_size(size)
    assert info.value.option == "size"
    assert spec.allowed_sizes_text() in info.value.detail


def test_aspect_ratio_sixteen_to_one_is_allowed():
    assert SEEDREAM_4_5.normalize_size("8192x512") == "8192x512"


def test_allowed_sizes_text():
    assert (
        SEEDREAM_4_5.allowed_sizes_text()
        == "2K, 4K, or WxH between 3,686,400 and 16,777,216 pixels (e.g. 2048x2048)"
    )
    assert SEEDREAM_3_T2I.allowed_sizes_text() == "WxH with each side 512 to 2048 (e.g. 1024x1024)"
    assert SEEDEDIT_3_I2I.allowed_sizes_text() == "adaptive"
    assert GPT_IMAGE_2.allowed_sizes_text() == (
        "1024x1024, 1024x1536, 1536x1024, auto, or WxH between 655,360 and 8,294,400 pixels (e.g. 1024x1024)"
    )


def test_the_example_size_is_one_the_model_takes_and_never_the_refused_one():
    # Every built-in model's example passes its own rules.
    for spec in BUILTIN_MODELS.values():
        if spec.accepts_wxh:
            example = spec.example_wxh()
            assert spec.normalize_size(example) == example, spec.id
    # A catalog model whose default is a tier and whose sides stop at 1,536: not "2048x2048".
    small = replace(SEEDREAM_4_0, id="small", default_size="1K", largest_size="1K", max_side=1536)
    assert small.example_wxh() == "1024x1024"
    assert small.allowed_sizes_text().endswith("(e.g. 1024x1024)")
    # One taking only large squares in multiples of 64: its smallest, rounded up to the multiple.
    large = replace(small, min_pixels=5_000_000, max_pixels=9_000_000, min_side=None, max_side=None,
                    largest_size="4K", size_multiple=64)  # fmt: skip
    assert large.example_wxh() == "2240x2240"
    # The size the gateway refused is not the example offered back.
    assert SEEDREAM_3_T2I.example_wxh(besides="1024x1024") == "2048x2048"
    assert SEEDREAM_3_T2I.example_wxh(besides="2048X2048") == "1024x1024"
    assert SEEDEDIT_3_I2I.example_wxh() is None


def test_long_garbage_size_is_shortened_in_detail():
    with pytest.raises(InvalidOptionError) as info:
        SEEDREAM_4_5.normalize_size("z" * 500)
    assert len(info.value.detail) < 300


@pytest.mark.parametrize("seed", [-1, 0, 12, 2_147_483_647, None])
def test_seed_in_range(seed):
    assert SEEDREAM_3_T2I.validate_seed(seed) == seed


@pytest.mark.parametrize("seed", [-2, 2_147_483_648, True])
def test_seed_out_of_range(seed):
    with pytest.raises(InvalidOptionError) as info:
        SEEDREAM_3_T2I.validate_seed(seed)
    assert info.value.option == "seed"
    assert "2,147,483,647" in info.value.detail


def test_seed_refused_where_not_supported():
    assert SEEDREAM_4_5.validate_seed(None) is None
    with pytest.raises(InvalidOptionError, match="does not take a seed"):
        SEEDREAM_4_5.validate_seed(5)


def test_guidance():
    assert SEEDEDIT_3_I2I.validate_guidance(5.5) == 5.5
    with pytest.raises(InvalidOptionError):
        SEEDEDIT_3_I2I.validate_guidance(11)
    with pytest.raises(InvalidOptionError):
        SEEDREAM_5_0.validate_guidance(2.5)


def test_reference_counts():
    assert SEEDREAM_4_5.validate_reference_count(14) == 14
    assert SEEDEDIT_3_I2I.validate_reference_count(1) == 1
    with pytest.raises(InvalidOptionError, match="0 to 14 reference images"):
        SEEDREAM_4_5.validate_reference_count(15)
    with pytest.raises(InvalidOptionError, match="use /edit and attach an image") as needs:
        SEEDEDIT_3_I2I.validate_reference_count(0)  # asked to draw from words alone (/imagine)
    assert needs.value.reason == "needs_edit"
    with pytest.raises(InvalidOptionError, match="no reference images") as info:
        SEEDREAM_3_T2I.validate_reference_count(1)
    assert info.value.option == "images"


def test_series():
    assert SEEDREAM_4_5.validate_series(15) == 15
    assert SEEDREAM_4_5.validate_series(5, 10) == 5
    with pytest.raises(InvalidOptionError, match="2 to 5 images with 10 reference images"):
        SEEDREAM_4_5.validate_series(6, 10)
    with pytest.raises(InvalidOptionError) as info:
        SEEDREAM_4_5.validate_series(1)
    assert info.value.option == "count"
    with pytest.raises(InvalidOptionError, match="cannot make a series"):
        SEEDREAM_3_T2I.validate_series(3)
    with pytest.raises(InvalidOptionError) as info:
        SEEDREAM_4_5.validate_series(2, 15)
    assert info.value.option == "images"


def test_prompt_is_stripped_of_whitespace_and_zero_width():
    assert SEEDREAM_4_5.validate_prompt("\u200b  a cat \ufeff\n\u2060") == "a cat"
    # interior zero-width joiners belong to emoji sequences and stay
    assert SEEDREAM_4_5.validate_prompt(" 👨\u200d👩 ") == "👨\u200d👩"


@pytest.mark.parametrize(
    "prompt",
    [
        "", "   ", "\u200b\u200c\u200d", "\ufeff \u2060\n\t",
        "\u200e\u200f\u00ad\u2061",  # direction marks, soft hyphen, function application (Cf)
        "\u3164\u2800", "\u115f\u1160\uffa0",  # Hangul and Braille fillers
        "\u0301\u0308 \u2028\u2029\u3000\x07",  # lone combining marks, separators, a control
    ],
)  # fmt: skip
def test_empty_prompt_refused(prompt):
    with pytest.raises(InvalidOptionError) as info:
        SEEDREAM_4_5.validate_prompt(prompt)
    assert info.value.option == "prompt"


def test_prompts_with_visible_text_among_invisible_characters_are_kept():
    assert SEEDREAM_4_5.validate_prompt("\u3164a\u2800") == "\u3164a\u2800"
    assert SEEDREAM_4_5.validate_prompt("e\u0301") == "e\u0301"
    assert SEEDREAM_4_5.validate_prompt("一只猫") == "一只猫"


def test_too_long_prompt_tells_the_limit():
    assert SEEDREAM_4_5.validate_prompt("a" * 2000) == "a" * 2000
    with pytest.raises(InvalidOptionError) as info:
        SEEDREAM_4_5.validate_prompt("a" * 2001)
    assert "2,000" in info.value.detail
    assert "2,001" in info.value.detail


def test_builtin_ids_and_facts():
    assert set(BUILTIN_MODELS) >= {
        "doubao-seedream-3-0-t2i-250415",
        "doubao-seededit-3-0-i2i-250628",
        "doubao-seedream-4-0-250828",
        "doubao-seedream-4-5-251128",
        "doubao-seedream-5-0-260128",
        "doubao-seedream-5-0-lite",
        "gpt-image-1.5",
        "gpt-image-2",
    }
    assert BUILTIN_MODELS["doubao-seedream-5-0-lite"].max_pixels == 10_404_496
    assert BUILTIN_MODELS["gpt-image-1.5"].response_formats == ("b64_json",)
    assert SEEDREAM_5_0.output_formats[0] == "jpeg"
    with pytest.raises(AttributeError):
        SEEDREAM_5_0.id = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("usd", "micros"),
    [
        (Decimal("0.135"), 135_000),
        ("0.162", 162_000),
        ("2", 2_000_000),
        (0, 0),
        ("0.0000005", 1),  # an amount is rounded; a price is refused (test_settings)
        (0.135, 135_000),
    ],
)
def test_usd_to_micros(usd, micros):
    assert usd_to_micros(usd) == micros


@pytest.mark.parametrize("usd", ["-0.1", "abc", "NaN", "Infinity", ""])
def test_usd_to_micros_refuses(usd):
    with pytest.raises(ValueError):
        usd_to_micros(usd)


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "$0.00"),
        (270_000, "$0.27"),
        (135_000, "$0.135"),  # exact, never rounded
        (134_999, "$0.134999"),
        (1_500_000, "$1.50"),
        (10_000, "$0.01"),
        (9_999, "$0.009999"),
        (3_500, "$0.0035"),
        (1, "$0.000001"),
        (1_234_500_000, "$1,234.50"),
        (-270_000, "-$0.27"),
    ],
)
def test_format_usd(micros, text):
    assert format_usd(micros) == text


@pytest.mark.parametrize(
    ("spec", "size", "pixels"),
    [
        (SEEDREAM_4_0, "4K", 16_777_216),  # the largest tier: the model's most pixels
        (SEEDREAM_4_0, "3040x5504", 16_732_160),
        (SEEDREAM_4_0, "2K", None),  # a lower tier: the model picks the shape, and the pixels
        (SEEDREAM_5_0, "3K", 10_404_496),
        (GPT_IMAGE_1_5, "1536x1024", 1_572_864),
        (SEEDEDIT_3_I2I, "adaptive", None),  # the input's size
        (SEEDREAM_4_0, None, None),
    ],
)
def test_pixels_of_a_size_where_the_size_tells_them(spec, size, pixels):
    assert spec.pixels(size) == pixels


@pytest.mark.parametrize(
    ("spec", "shape", "expected"),
    [
        (SEEDREAM_4_0, (1920, 1080), "2848x1600"),
        (SEEDREAM_5_0, (3024, 4032), "1728x2304"),
        (SEEDREAM_4_5, (6000, 375), "3136x1344"),  # 16:1, the widest preset
        (replace(SEEDREAM_4_0, default_size="4K"), (1920, 1080), "5504x3040"),  # at the default's scale
        (replace(SEEDREAM_4_0, max_aspect=2), (6000, 375), "2848x1600"),  # the nearest the model takes
        (SEEDEDIT_3_I2I, (1920, 1080), None),  # "adaptive" only
        (SEEDREAM_3_T2I, (1920, 1080), None),  # takes no image
        (SEEDREAM_4_0, (0, 0), None),  # dimensions unknown
    ],
)
def test_a_size_shaped_like_an_image(spec, shape, expected):
    assert spec.size_shaped_like(*shape) == expected
