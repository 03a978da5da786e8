from decimal import Decimal

import pytest

from image_gateway.catalog import InvalidOptionError
from image_gateway.presets import PRESET_NAMES, CatalogError, build_catalog, get_preset


def test_preset_names_and_facts():
    assert PRESET_NAMES == ("gogogotoken-ai", "gogogotoken-com", "aiearth", "302ai", "xmsmartlink", "custom")
    com = get_preset("gogogotoken-com")
    assert com.base_url == "https://gogogotoken.com/v1"
    assert com.default_model == "doubao-seedream-4-0-250828"
    assert {k: v.price_micros for k, v in com.models.items()} == {
        "doubao-seedream-4-0-250828": 162_000,
        "doubao-seedream-4-5-251128": 135_000,
        "doubao-seedream-5-0-260128": 135_000,
    }
    assert com.supports_n and not com.supports_stream
    assert get_preset("302ai").base_url == "https://api.302.ai/doubao"
    assert get_preset("302ai").default_model == "doubao-seedream-3-0-t2i-250415"
    assert get_preset("aiearth").has_models_endpoint
    x = get_preset("xmsmartlink")
    assert x.models["gpt-image-2"].response_formats == ("b64_json",)
    assert get_preset("custom").base_url == ""


def test_gogogotoken_ai_pixel_floor_and_aliases():
    ai = get_preset("gogogotoken-ai")
    assert list(ai.models) == ["doubao-seedream-5-0-lite", "doubao-seedream-4-5"]
    assert ai.default_model == "doubao-seedream-5-0-lite"
    assert all(m.price_micros is None for m in ai.models.values())
    lite = ai.models["doubao-seedream-5-0-lite"]
    assert lite.normalize_size(None) is None  # its page: leave size out
    with pytest.raises(InvalidOptionError):
        lite.normalize_size("1024x1024")


def test_get_preset_unknown_lists_valid_names():
    with pytest.raises(
        ValueError, match="gogogotoken-ai, gogogotoken-com, aiearth, 302ai, xmsmartlink, custom"
    ):
        get_preset("nope")
    assert get_preset(" AIEarth ").name == "aiearth"


def test_presets_are_immutable():
    preset = get_preset("aiearth")
    with pytest.raises(TypeError):
        preset.models["x"] = preset.models[preset.default_model]  # type: ignore[index]


def test_unknown_model_is_an_option_error():
    with pytest.raises(InvalidOptionError) as info:
        get_preset("gogogotoken-com").model("dall-e-3")
    assert info.value.option == "model"
    assert "doubao-seedream-4-5-251128" in info.value.detail


def test_prices_mapping():
    preset = build_catalog(get_preset("aiearth"), prices={"doubao-seedream-5-0-260128": Decimal("0.04")})
    assert preset.models["doubao-seedream-5-0-260128"].price_micros == 40_000
    assert (
        get_preset("aiearth").models["doubao-seedream-5-0-260128"].price_micros is None
    )  # original untouched
    with pytest.raises(CatalogError, match="IMAGE_PRICES names a model this gateway does not offer: 'nope'"):
        build_catalog(get_preset("aiearth"), prices={"nope": Decimal(1)})


def test_catalog_file_overrides_and_adds(tmp_path):
    path = tmp_path / "models.toml"
    path.write_text(
        """
default_model = "my-seedream"

[models."doubao-seedream-4-5-251128"]
price_usd = "0.05"
label = "Seedream 4.5 (cheap)"
size_tiers = ["2K"]
largest_size = "2K"
default_size = "none"

[models."my-seedream"]
like = "doubao-seedream-5-0-260128"
label = "House Seedream"
price_usd = 0.03
max_references = 4
""",
        encoding="utf-8",
    )
    preset = build_catalog(
        get_preset("aiearth"), catalog_file=path, prices={"doubao-seedream-4-0-250828": "0.02"}
    )
    s45 = preset.models["doubao-seedream-4-5-251128"]
    assert (s45.price_micros, s45.label, s45.size_tiers, s45.default_size) == (
        50_000,
        "Seedream 4.5 (cheap)",
        ("2K",),
        None,
    )
    mine = preset.models["my-seedream"]
    assert mine.id == "my-seedream"
    assert (mine.price_micros, mine.max_references, mine.max_pixels) == (30_000, 4, 10_404_496)
    assert preset.default_model == "my-seedream"
    assert preset.models["doubao-seedream-4-0-250828"].price_micros == 20_000


def test_catalog_file_keeps_gateway_pixel_floor(tmp_path):
    path = tmp_path / "models.toml"
    path.write_text('[models."doubao-seedream-4-0-250828"]\nlike = "doubao-seedream-4-0-250828"\n')
    preset = build_catalog(get_preset("gogogotoken-ai"), catalog_file=path)
    spec = preset.models["doubao-seedream-4-0-250828"]
    assert spec.min_pixels == 3_686_400
    assert "1K" not in spec.size_tiers


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[models."doubao-seedream-4-5-251128"]\nprice = "0.1"\n', "unknown key 'price'"),
        ('[models."new-model"]\nlabel = "x"\n', "new model"),
        ('[models."new-model"]\nlike = "missing"\n', "not a known model"),
        ('[models."doubao-seedream-4-5-251128"]\nmax_references = "many"\n', "max_references must be int"),
        ('[models."doubao-seedream-4-5-251128"]\nsize_tiers = "2K"\n', "size_tiers must be a list"),
        ('[models."doubao-seedream-4-5-251128"]\nprice_usd = "-1"\n', "price_usd"),
        ('[models."doubao-seedream-4-5-251128"]\nprice_usd = 0.0405001\n', "price_usd: finer than a micro-dollar"),
        ('colour = "blue"\n', "unknown key 'colour'"),
        ('default_model = "nope"\n', "default_model 'nope'"),
        ("[models\n", "cannot read"),
        ('default_model = ["doubao-seedream-4-5-251128"]\n', "'default_model' must be a model id in quotes"),
    ],
)
def test_catalog_file_errors_are_clear(tmp_path, text, message):
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        build_catalog(get_preset("aiearth"), catalog_file=path)


def test_a_catalog_file_that_is_not_text_is_named_in_a_clear_error(tmp_path):
    path = tmp_path / "models.toml"
    path.write_bytes(b"\xff\xfe default_model")
    with pytest.raises(CatalogError, match=r"models\.toml: cannot read the model catalog"):
        build_catalog(get_preset("aiearth"), catalog_file=path)


# -- a catalog file no request could use stops the start ----------------------------------------


def _catalog(tmp_path, text: str):
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("table", "message"),
    [
        # sent to the gateway on every /imagine without a size
        ('default_size = "banana"', "default_size: 'banana' is not a size; Seedream 4.0 takes 1K, 2K, 4K, or WxH"),
        # asked for by every Upscale
        ('largest_size = "99999x99999"', "largest_size: 99999x99999 has 9,999,800,001 pixels, over 16,777,216"),
        ("size_tiers = []", "largest_size: 4K is not one of the sizes it takes; Seedream 4.0 takes WxH between"),
        ("max_prompt_chars = 0", "max_prompt_chars must be at least 1, not 0"),
        ("max_references = 1000000", "max_references must be at most 14 (Seedream takes 14 reference images, "
                                     "15 images in all), not 1000000"),
    ],
)
def test_a_catalog_value_the_model_cannot_take_names_the_file_the_model_and_the_key(tmp_path, table, message):
    path = _catalog(tmp_path, f'[models."doubao-seedream-4-0-250828"]\n{table}\n')
    with pytest.raises(CatalogError) as caught:
        build_catalog(get_preset("gogogotoken-com"), catalog_file=path)
    assert str(caught.value).startswith(f"{path}: [models.'doubao-seedream-4-0-250828']: {message}")


def test_an_added_model_is_held_to_the_gateways_pixel_floor(tmp_path):
    # gogogotoken.ai refuses sizes under 3,686,400 pixels: Seedream 3.0's default 1024x1024 would fail every request.
    path = _catalog(tmp_path, '[models."my-seedream-3"]\nlike = "doubao-seedream-3-0-t2i-250415"\n')
    with pytest.raises(CatalogError, match=r"\[models.'my-seedream-3'\]: default_size: 1024x1024 has 1,048,576 "
                                           r"pixels, under 3,686,400"):
        build_catalog(get_preset("gogogotoken-ai"), catalog_file=path)


def test_catalog_sizes_are_read_as_a_members_size_is(tmp_path):
    path = _catalog(tmp_path, '[models."doubao-seedream-4-0-250828"]\ndefault_size = "2k"\n'
                              'largest_size = "4096 × 4096"\nmax_references = 14\n')
    spec = build_catalog(get_preset("gogogotoken-com"), catalog_file=path).models["doubao-seedream-4-0-250828"]
    assert (spec.default_size, spec.largest_size, spec.max_references) == ("2K", "4096x4096", 14)


def test_a_catalog_default_model_may_be_a_label_as_image_model_may(tmp_path):
    path = _catalog(tmp_path, 'default_model = "seedream 4.5"\n')
    assert build_catalog(get_preset("gogogotoken-com"), catalog_file=path).default_model == "doubao-seedream-4-5-251128"


def test_a_wrong_catalog_default_model_names_the_file_and_the_models_offered(tmp_path):
    path = _catalog(tmp_path, 'default_model = "Seedream 9"\n')
    with pytest.raises(CatalogError) as caught:
        build_catalog(get_preset("gogogotoken-com"), catalog_file=path)
    assert str(caught.value) == (
        f"{path}: default_model 'Seedream 9' is not offered by gogogotoken-com; choose one of: "
        "doubao-seedream-4-0-250828 (Seedream 4.0), doubao-seedream-4-5-251128 (Seedream 4.5), "
        "doubao-seedream-5-0-260128 (Seedream 5.0 Lite)"
    )


def test_a_label_too_long_for_a_result_line_stops_the_start(tmp_path):
    # It goes into "Generating ... with {label}" and every result's line: 2,000 characters of it
    # and Discord refuses the results (they were made and billed, and never posted).
    path = _catalog(tmp_path, f'[models."doubao-seedream-5-0-260128"]\nlabel = "{"Seedream 5.0 Lite " * 110}"\n')
    with pytest.raises(CatalogError) as caught:
        build_catalog(get_preset("aiearth"), catalog_file=path)
    assert str(caught.value) == (
        f"{path}: [models.'doubao-seedream-5-0-260128']: the label has 1980 characters; it is shown on every "
        "result and in Discord's suggestions, so at most 100"
    )
    path = _catalog(tmp_path, f'[models."doubao-seedream-5-0-260128"]\nlabel = "{"图" * 100}"\n')
    models = build_catalog(get_preset("aiearth"), catalog_file=path).models
    assert models["doubao-seedream-5-0-260128"].label == "图" * 100


def test_a_model_id_too_long_for_discords_suggestions_stops_the_start(tmp_path):
    # Discord refuses every model suggestion when one value is over 100 characters.
    long_id = "vendor/bytedance/" + "doubao-seedream-5-0-260128-" * 4 + "preview"
    path = _catalog(tmp_path, f'[models."{long_id}"]\nlike = "doubao-seedream-5-0-260128"\n')
    with pytest.raises(CatalogError) as caught:
        build_catalog(get_preset("aiearth"), catalog_file=path)
    assert str(caught.value) == (
        f"{path}: [models.{long_id!r}]: the model id has {len(long_id)} characters; members pick models "
        "from Discord's suggestions, which take at most 100"
    )
    longest = "m" * 100
    path = _catalog(tmp_path, f'[models."{longest}"]\nlike = "doubao-seedream-5-0-260128"\n')
    assert longest in build_catalog(get_preset("aiearth"), catalog_file=path).models
