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
