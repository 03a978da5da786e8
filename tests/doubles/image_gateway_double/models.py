"""Model rules and gateway flavours of the image-gateway double.

The numbers come from /work/shared/SEEDREAM-API.md and the gateway pages in
/work/shared/seeds; the double refuses what those documents say the real thing refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

SEEDREAM_40 = "doubao-seedream-4-0-250828"
SEEDREAM_45 = "doubao-seedream-4-5-251128"
SEEDREAM_50 = "doubao-seedream-5-0-260128"
SEEDREAM_30_T2I = "doubao-seedream-3-0-t2i-250415"
SEEDEDIT_30 = "doubao-seededit-3-0-i2i-250628"
GPT_IMAGE_15 = "gpt-image-1.5"
GPT_IMAGE_2 = "gpt-image-2"

BASIC_INPUTS = ("png", "jpeg")
RICH_INPUTS = ("png", "jpeg", "webp", "bmp", "tiff", "gif")

# Square size of each tier keyword; the aspect of the 2K/4K presets is chosen from the prompt.
TIER_SQUARE = {"1K": 1024, "2K": 2048, "3K": 3072, "4K": 4096}
PRESETS_2K = {
    "1:1": (2048, 2048),
    "4:3": (2304, 1728),
    "3:4": (1728, 2304),
    "16:9": (2848, 1600),
    "9:16": (1600, 2848),
    "3:2": (2496, 1664),
    "2:3": (1664, 2496),
    "21:9": (3136, 1344),
}
PRESETS_4K = {
    "1:1": (4096, 4096),
    "4:3": (4704, 3520),
    "3:4": (3520, 4704),
    "16:9": (5504, 3040),
    "9:16": (3040, 5504),
    "3:2": (4992, 3328),
    "2:3": (3328, 4992),
    "21:9": (6240, 2656),
}


@dataclass(frozen=True)
class ModelRule:
    """What one model accepts."""

    id: str
    min_refs: int = 0
    max_refs: int = 14
    tiers: tuple[str, ...] = ()
    fixed_sizes: tuple[str, ...] = ()
    min_pixels: int | None = None
    max_pixels: int | None = None
    min_side: int | None = None
    max_side: int | None = None
    size_multiple: int = 1  # each side of a WxH a multiple of this
    max_aspect: float = 16  # the longer side at most this many times the shorter
    default_size: str = "2048x2048"
    series: bool = True
    output_formats: tuple[str, ...] = ("jpeg",)
    response_formats: tuple[str, ...] = ("url", "b64_json")
    input_formats: tuple[str, ...] = RICH_INPUTS
    echo_id: str | None = None  # the "model" the gateway answers with (upstream ID)

    def with_min_pixels(self, floor: int) -> ModelRule:
        current = self.min_pixels or 0
        return _replace(self, min_pixels=max(current, floor))

    def with_echo(self, echo_id: str) -> ModelRule:
        return _replace(self, echo_id=echo_id)


def _replace(rule: ModelRule, **changes: object) -> ModelRule:
    return replace(rule, **changes)


RULES: dict[str, ModelRule] = {
    SEEDREAM_30_T2I: ModelRule(
        SEEDREAM_30_T2I,
        max_refs=0,
        min_side=512,
        max_side=2048,
        default_size="1024x1024",
        series=False,
        input_formats=BASIC_INPUTS,
    ),
    SEEDEDIT_30: ModelRule(
        SEEDEDIT_30,
        min_refs=1,
        max_refs=1,
        fixed_sizes=("adaptive",),
        default_size="adaptive",
        series=False,
        input_formats=BASIC_INPUTS,
    ),
    SEEDREAM_40: ModelRule(
        SEEDREAM_40,
        tiers=("1K", "2K", "4K"),
        min_pixels=921_600,
        max_pixels=16_777_216,
    ),
    SEEDREAM_45: ModelRule(
        SEEDREAM_45,
        tiers=("2K", "4K"),
        min_pixels=3_686_400,
        max_pixels=16_777_216,
    ),
    SEEDREAM_50: ModelRule(
        SEEDREAM_50,
        tiers=("2K", "3K"),
        min_pixels=3_686_400,
        max_pixels=10_404_496,
        output_formats=("png", "jpeg"),
    ),
    GPT_IMAGE_15: ModelRule(
        GPT_IMAGE_15,
        max_refs=0,
        fixed_sizes=("1024x1024", "1024x1536", "1536x1024", "auto"),
        default_size="1024x1024",
        series=False,
        response_formats=("b64_json",),
        output_formats=("png",),
    ),
}
# xmsmartlink's page: gpt-image-2 also takes a custom size (OpenAI's rules: sides in multiples of
# 16, the longest at most 3840, at most 3:1, 655,360 to 8,294,400 pixels).
RULES[GPT_IMAGE_2] = _replace(
    RULES[GPT_IMAGE_15], id=GPT_IMAGE_2, min_pixels=655_360, max_pixels=8_294_400, max_side=3840,
    size_multiple=16, max_aspect=3,
)  # fmt: skip


@dataclass(frozen=True)
class Flavour:
    """One gateway preset as the double imitates it."""

    name: str
    prefix: str  # "/v1" or "/doubao"; the bot's base URL is host + prefix
    models: dict[str, ModelRule] = field(default_factory=dict)
    supports_n: bool = False
    supports_stream: bool = False
    has_models_endpoint: bool = False
    minimal_response: bool = False  # 302.ai answers only url + usage.generated_images
    owned_by: str = "volcengine"


def _pick(*ids: str) -> dict[str, ModelRule]:
    return {model_id: RULES[model_id] for model_id in ids}


def _gogogotoken_ai_models() -> dict[str, ModelRule]:
    # Short IDs, upstream IDs echoed back, and a 3,686,400 px floor on every size.
    floor = 3_686_400
    return {
        "doubao-seedream-5-0-lite": _replace(RULES[SEEDREAM_50], id="doubao-seedream-5-0-lite")
        .with_min_pixels(floor)
        .with_echo("seedream-5-0-260128"),
        "doubao-seedream-4-5": _replace(RULES[SEEDREAM_45], id="doubao-seedream-4-5")
        .with_min_pixels(floor)
        .with_echo("seedream-4-5-251128"),
    }


# Defaults match image_gateway/presets.py: n where the page documents it (gogogotoken, xmsmartlink),
# streaming where the page passes Ark's series parameters through (aiearth, xmsmartlink).
FLAVOURS: dict[str, Flavour] = {
    "gogogotoken-ai": Flavour(
        "gogogotoken-ai",
        "/v1",
        _gogogotoken_ai_models(),
        supports_n=True,
        owned_by="gogogotoken",
    ),
    "gogogotoken-com": Flavour(
        "gogogotoken-com",
        "/v1",
        _pick(SEEDREAM_40, SEEDREAM_45, SEEDREAM_50),
        supports_n=True,
        owned_by="gogogotoken",
    ),
    "aiearth": Flavour(
        "aiearth",
        "/v1",
        _pick(SEEDREAM_30_T2I, SEEDEDIT_30, SEEDREAM_40, SEEDREAM_45, SEEDREAM_50),
        supports_stream=True,
        has_models_endpoint=True,  # the only page that documents GET /models
        owned_by="aioagi",
    ),
    "302ai": Flavour(
        "302ai",
        "/doubao",
        _pick(SEEDREAM_30_T2I, SEEDEDIT_30, SEEDREAM_40, SEEDREAM_45, SEEDREAM_50),
        minimal_response=True,
        owned_by="302ai",
    ),
    "xmsmartlink": Flavour(
        "xmsmartlink",
        "/v1",
        _pick(SEEDREAM_50, GPT_IMAGE_15, GPT_IMAGE_2),
        supports_n=True,
        supports_stream=True,
        owned_by="xmsmartlink",
    ),
}


def aspect_preset_key(prompt: str) -> str:
    """The aspect ratio a prompt asks for, as a key of PRESETS_2K ("1:1" when it says nothing)."""
    lowered = prompt.lower()
    for key in PRESETS_2K:
        if key != "1:1" and key in lowered:
            return key
    words = {
        "16:9": ("landscape", "widescreen", "横屏", "横版"),
        "9:16": ("portrait orientation", "vertical", "竖屏", "竖版"),
    }
    for key, hints in words.items():
        if any(hint in lowered for hint in hints):
            return key
    return "1:1"


def tier_size(tier: str, prompt: str) -> tuple[int, int]:
    """Logical output size of a tier keyword."""
    key = aspect_preset_key(prompt)
    if tier == "4K":
        return PRESETS_4K[key]
    width, height = PRESETS_2K[key]
    factor = TIER_SQUARE[tier] / 2048
    return round(width * factor), round(height * factor)
