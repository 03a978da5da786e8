"""What each model accepts (sizes, references, seed, series, formats) and what it costs.

Every check here runs before any money is spent and raises InvalidOptionError: a machine `reason`
with its `params` (what the member wrote, what is allowed), which the bot words in the member's
language, and `detail`, the same in English for logs.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from image_gateway.money import format_usd, usd_to_micros

__all__ = [
    "BUILTIN_MODELS",
    "MAX_PROMPT_CHARS",
    "MAX_REFERENCES",
    "MAX_TOTAL_IMAGES",
    "SEED_MAX",
    "SEED_MIN",
    "AllowedSizes",
    "InvalidOptionError",
    "ModelSpec",
    "format_usd",
    "usd_to_micros",
]

SEED_MIN = -1
SEED_MAX = 2_147_483_647
GUIDANCE_MIN = 1.0
GUIDANCE_MAX = 10.0
MAX_ASPECT = 16
MIN_SERIES = 2
MAX_TOTAL_IMAGES = 15  # Ark: reference images + output images of a series <= 15
MAX_REFERENCES = 14  # Ark: Seedream 4.x and 5.0 take up to 14 reference images
# Ark recommends about 300 Chinese characters or 600 English words (~3,500 chars). 2,000 code
# points keeps a Discord option readable, covers every realistic prompt, and stays under what the
# gateways truncate silently.
MAX_PROMPT_CHARS = 2000

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u180e"
_EDGES = re.compile(rf"^[\s{_ZERO_WIDTH}]+|[\s{_ZERO_WIDTH}]+$")
# What draws nothing: format and control characters, spaces and separators, combining marks on
# nothing, and the Hangul and Braille fillers that render blank. A prompt of only these is empty
# (the gateway would bill an image drawn from nothing).
_BLANK_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp", "Mn"})
_BLANK_FILLERS = frozenset("\u3164\u2800\u115f\u1160\uffa0")
_WXH = re.compile(r"^\s*(\d{1,6})\s*[x×*]\s*(\d{1,6})\s*$", re.IGNORECASE)
# Sizes by name that some model makes ("4K", "adaptive"): another model does not make them, but
# they are sizes, and a member who types one is told so, not that it "is not a size".
_NAMED_SIZE = re.compile(r"[1-9]K|adaptive|auto", re.IGNORECASE)


class InvalidOptionError(ValueError):
    """A user option the model cannot take; refused before anything is spent.

    `option` ("size", "seed", "count", "images", "prompt", "model", "guidance_scale") and `reason`
    (e.g. "too_few_pixels") name the refusal; `params` carry its values (ints, strings, tuples of
    choices, an `AllowedSizes`) so each language can word it whole; `detail` is the English text.
    """

    def __init__(self, option: str, detail: str, reason: str = "invalid", **params: object) -> None:
        super().__init__(f"{option}: {detail}")
        self.option = option
        self.detail = detail
        self.reason = reason
        self.params = params


def or_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} or {items[1]}"
    return f"{', '.join(items[:-1])}, or {items[-1]}"


def _shown(value: object) -> str:
    return repr(_short(value))


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"


@dataclass(frozen=True)
class AllowedSizes:
    """What `size` may be, as data: named sizes ("2K", "adaptive", "1024x1024"), then WxH if taken."""

    names: tuple[str, ...]
    min_pixels: int | None = None
    max_pixels: int | None = None
    min_side: int | None = None
    max_side: int | None = None
    example: str | None = None

    @property
    def wxh(self) -> bool:
        return self.min_pixels is not None

    def text(self) -> str:
        """English, e.g. "2K, 4K, or WxH between 3,686,400 and 16,777,216 pixels (e.g. 2048x2048)"."""
        items = list(self.names)
        if self.wxh and self.min_side is not None and self.max_side is not None:
            items.append(f"WxH with each side {self.min_side} to {self.max_side} (e.g. {self.example})")
        elif self.wxh:
            items.append(f"WxH between {self.min_pixels:,} and {self.max_pixels:,} pixels (e.g. {self.example})")
        return or_list(items)


@dataclass(frozen=True)
class ModelSpec:
    id: str
    label: str
    price_micros: int | None
    min_references: int
    max_references: int
    size_tiers: tuple[str, ...]
    fixed_sizes: tuple[str, ...]
    min_pixels: int | None
    max_pixels: int | None
    min_side: int | None
    max_side: int | None
    default_size: str | None
    largest_size: str
    supports_seed: bool
    supports_guidance: bool
    supports_series: bool
    output_formats: tuple[str, ...]
    response_formats: tuple[str, ...]
    input_formats: tuple[str, ...]
    max_prompt_chars: int
    # Beyond the contract (defaulted): GPT-Image has no "watermark" field, so it is not sent.
    supports_watermark: bool = True
    # WxH rules beyond the pixel and side ranges: gpt-image-2 takes sides in multiples of 16 and
    # at most 3:1; Seedream any whole side up to 16:1.
    size_multiple: int = 1
    max_aspect: int = MAX_ASPECT

    def __post_init__(self) -> None:
        if not self.id or not self.response_formats or not self.output_formats:
            raise ValueError(f"model {self.id!r}: id, response_formats and output_formats are required")
        if not 0 <= self.min_references <= self.max_references:
            raise ValueError(f"model {self.id!r}: need 0 <= min_references <= max_references")
        if (self.min_pixels is None) != (self.max_pixels is None):
            raise ValueError(f"model {self.id!r}: set both min_pixels and max_pixels, or neither")
        if self.size_multiple < 1 or self.max_aspect < 1:
            raise ValueError(f"model {self.id!r}: size_multiple and max_aspect must be at least 1")

    # -- sizes -------------------------------------------------------------------------------

    @property
    def accepts_wxh(self) -> bool:
        return self.min_pixels is not None

    def allowed_sizes(self) -> AllowedSizes:
        """What `size` may be, as data each language can word."""
        names = (*self.size_tiers, *self.fixed_sizes)
        if not self.accepts_wxh:
            return AllowedSizes(names)
        return AllowedSizes(
            names, self.min_pixels, self.max_pixels, self.min_side, self.max_side, self.example_wxh()
        )  # fmt: skip

    def example_wxh(self, *, besides: str | None = None) -> str | None:
        """A WxH this model takes, to show as an example: its default size, else its largest, else a
        common square, else the smallest square its rules allow; never `besides` (a size the
        gateway refused). None when it takes no WxH."""
        if not self.accepts_wxh or self.min_pixels is None:
            return None
        step = self.size_multiple
        side = max(math.isqrt(self.min_pixels - 1) + 1, self.min_side or 1)
        smallest = -(-side // step) * step
        for size in (self.default_size, self.largest_size, "2048x2048", "1024x1024", f"{smallest}x{smallest}"):
            match = _WXH.match(size or "")
            if match is None or (besides is not None and size.casefold() == besides.casefold()):
                continue
            if self._wxh_problem(int(match[1]), int(match[2])) is None:
                return f"{int(match[1])}x{int(match[2])}"
        return None

    def allowed_sizes_text(self) -> str:
        """Human list of what `size` may be, e.g. "2K, 4K, or WxH between 3,686,400 and ... pixels"."""
        return self.allowed_sizes().text()

    def normalize_size(self, size: str | None) -> str | None:
        """Canonical size string ("2k" -> "2K", "2048 × 2048" -> "2048x2048"); None -> default.
        Full-width characters, as a Chinese or Japanese input method types them ("２Ｋ",
        "２０４８ｘ２０４８"), are read as their ASCII selves."""
        if size is None:
            return self.default_size
        text = unicodedata.normalize("NFKC", size).strip()
        for known in (*self.size_tiers, *self.fixed_sizes):
            if text.casefold() == known.casefold():
                return known
        match = _WXH.match(text)
        if match is None and _NAMED_SIZE.fullmatch(text):
            named = text.upper() if text[0].isdigit() else text.lower()
            raise self._size_error("not_accepted", f"{named} is not one of the sizes it takes", named)
        if match is None:
            raise self._size_error("not_a_size", f"{_shown(size)} is not a size", _short(size))
        width, height = int(match[1]), int(match[2])
        canonical = f"{width}x{height}"
        if canonical in self.fixed_sizes:
            return canonical
        problem = self._wxh_problem(width, height)
        if problem:
            reason, english, params = problem
            raise self._size_error(reason, f"{canonical} {english}", canonical, **params)
        return canonical

    def _wxh_problem(self, width: int, height: int) -> tuple[str, str, dict[str, int]] | None:
        """(reason, English, params) for a WxH this model cannot take, or None."""
        if self.min_pixels is None or self.max_pixels is None:
            return "not_accepted", "is not accepted", {}
        if width <= 0 or height <= 0:
            return "empty", "is empty", {}
        if self.min_side is not None and min(width, height) < self.min_side:
            return "side_too_small", f"has a side under {self.min_side}", {"limit": self.min_side}
        if self.max_side is not None and max(width, height) > self.max_side:
            return "side_too_large", f"has a side over {self.max_side}", {"limit": self.max_side}
        if width % self.size_multiple or height % self.size_multiple:
            return (
                "not_multiple", f"has a side that is not a multiple of {self.size_multiple}",
                {"multiple": self.size_multiple},
            )  # fmt: skip
        pixels = width * height
        if pixels < self.min_pixels:
            return (
                "too_few_pixels", f"has {pixels:,} pixels, under {self.min_pixels:,}",
                {"pixels": pixels, "limit": self.min_pixels},
            )  # fmt: skip
        if pixels > self.max_pixels:
            return (
                "too_many_pixels", f"has {pixels:,} pixels, over {self.max_pixels:,}",
                {"pixels": pixels, "limit": self.max_pixels},
            )  # fmt: skip
        if max(width, height) > self.max_aspect * min(width, height):
            return "too_wide", f"is wider than {self.max_aspect}:1", {"ratio": self.max_aspect}
        return None

    def _size_error(self, reason: str, english: str, value: str, **params: object) -> InvalidOptionError:
        return InvalidOptionError(
            "size", f"{english}; {self.label} takes {self.allowed_sizes_text()}.", reason,
            value=value, model=self.label, allowed=self.allowed_sizes(), **params,
        )  # fmt: skip

    def pixels(self, size: str | None) -> int | None:
        """The pixels of an image of `size` where the size tells them: a WxH, or the largest size
        (its most pixels). None where the model decides: a lower tier, "adaptive", "auto"."""
        if size is not None and (match := _WXH.match(size)) is not None:
            return int(match[1]) * int(match[2])
        return self.max_pixels if size is not None and size == self.largest_size else None

    def size_shaped_like(self, width: int, height: int) -> str | None:
        """For a request that gives an image and names no size: the Seedream preset (SEEDREAM-API.md)
        nearest the image's shape, at the model's default scale (4K presets where the default is 4K,
        else 2K), so that a 16:9 photo is not remade square (Seedream's default, 2048x2048, or the
        gateway's when none is sent). None where the model takes no WxH (SeedEdit's "adaptive",
        GPT Image's list) or none of the presets (a custom model's own limits)."""
        if self.max_references == 0 or self.min_pixels is None or self.max_pixels is None or min(width, height) <= 0:
            return None
        square_4k = PRESETS_4K[0][0] * PRESETS_4K[0][1]
        presets = PRESETS_4K if (self.pixels(self.default_size) or 0) >= square_4k else PRESETS_2K
        shape = math.log(width / height)
        for w, h in sorted(presets, key=lambda preset: abs(math.log(preset[0] / preset[1]) - shape)):
            if self._wxh_problem(w, h) is None:
                return f"{w}x{h}"
        return None

    @staticmethod
    def _is_wxh(size: str | None) -> bool:
        return size is not None and _WXH.match(size) is not None

    # -- other options -----------------------------------------------------------------------

    def validate_seed(self, seed: int | None) -> int | None:
        if seed is None:
            return None
        if not self.supports_seed:
            raise InvalidOptionError("seed", f"{self.label} does not take a seed.", "not_supported", model=self.label)
        if isinstance(seed, bool) or not isinstance(seed, int) or not SEED_MIN <= seed <= SEED_MAX:
            raise InvalidOptionError(
                "seed", f"Seed must be a whole number from {SEED_MIN} to {SEED_MAX:,}.", "out_of_range",
                min=SEED_MIN, max=SEED_MAX,
            )  # fmt: skip
        return seed

    def validate_guidance(self, guidance: float | None) -> float | None:
        if guidance is None:
            return None
        if not self.supports_guidance:
            raise InvalidOptionError(
                "guidance_scale", f"{self.label} does not take a guidance scale.", "not_supported",
                model=self.label,
            )  # fmt: skip
        if isinstance(guidance, bool) or not GUIDANCE_MIN <= float(guidance) <= GUIDANCE_MAX:
            raise InvalidOptionError(
                "guidance_scale", f"Guidance scale must be {GUIDANCE_MIN:g} to {GUIDANCE_MAX:g}.", "out_of_range",
                min=GUIDANCE_MIN, max=GUIDANCE_MAX,
            )  # fmt: skip
        return float(guidance)

    def validate_reference_count(self, count: int) -> int:
        if self.min_references <= count <= self.max_references:
            return count
        if count == 0:  # a model that changes an image, asked to draw one (/imagine)
            noun = "an image" if self.min_references == 1 else f"{self.min_references} images"
            reason, detail = "needs_edit", f"{self.label} changes images: use /edit and attach {noun}."
        elif self.max_references == 0:
            reason, detail = "none_taken", f"{self.label} takes no reference images."
        elif self.min_references == self.max_references:
            noun = "image" if self.max_references == 1 else "images"
            reason, detail = "exactly", f"{self.label} needs exactly {self.max_references} reference {noun}."
        else:
            reason = "out_of_range"
            detail = f"{self.label} takes {self.min_references} to {self.max_references} reference images."
        raise InvalidOptionError(
            "images", detail, reason,
            model=self.label, min=self.min_references, max=self.max_references, count=count,
        )  # fmt: skip

    def validate_series(self, count: int, references: int = 0) -> int:
        """A series of `count` images (sequential_image_generation=auto) with `references` inputs."""
        if not self.supports_series:
            raise InvalidOptionError(
                "count", f"{self.label} cannot make a series; pick Seedream 4.0 or newer.", "series_not_supported",
                model=self.label,
            )  # fmt: skip
        self.validate_reference_count(references)
        most = MAX_TOTAL_IMAGES - references
        if isinstance(count, bool) or not MIN_SERIES <= count <= most:
            extra = f" with {references} reference images" if references else ""
            raise InvalidOptionError(
                "count", f"A series has {MIN_SERIES} to {most} images{extra}.",
                "series_range_with_references" if references else "series_range",
                min=MIN_SERIES, max=most, references=references,
            )  # fmt: skip
        return count

    def validate_prompt(self, prompt: str) -> str:
        """The prompt without surrounding whitespace or zero-width characters; refused if long, or
        empty: only characters that draw nothing (format, control, spaces, fillers; `_is_blank`)."""
        cleaned = _EDGES.sub("", prompt)
        if all(_is_blank(char) for char in cleaned):
            raise InvalidOptionError("prompt", "The prompt is empty; describe the image you want.", "empty")
        if any("\ud800" <= char <= "\udfff" for char in cleaned):  # half a character: not UTF-8, not text
            raise InvalidOptionError("prompt", "The prompt has a broken character; type it again.", "broken")
        if len(cleaned) > self.max_prompt_chars:
            raise InvalidOptionError(
                "prompt",
                f"Prompts are limited to {self.max_prompt_chars:,} characters "
                f"(this one has {len(cleaned):,}).",
                "too_long", limit=self.max_prompt_chars, length=len(cleaned),
            )  # fmt: skip
        return cleaned

    def with_price(self, price_micros: int | None) -> ModelSpec:
        return replace(self, price_micros=price_micros)


def cost_not_known(model: ModelSpec | None, cost_micros: int, images_billed: int | None) -> bool:
    """Images billed at $0 whose price is not known: made while their model had no price (the
    books count them $0), whether it has one now or is offered still. Only a model priced at $0
    on purpose makes them free; "$0.00" would otherwise tell a member or an owner they were.
    Results, a restart's notices, /history and /spend all judge by this one rule."""
    return bool(images_billed) and not cost_micros and (model is None or model.price_micros != 0)


def _is_blank(char: str) -> bool:
    return char in _BLANK_FILLERS or unicodedata.category(char) in _BLANK_CATEGORIES


# -- the built-in models (facts from shared/SEEDREAM-API.md) -----------------------------------

# Seedream's recommended sizes, square first (SEEDREAM-API.md), each shape also turned upright
# (21:9 is listed only wide).
_WIDE_2K = ((2048, 2048), (2304, 1728), (2848, 1600), (2496, 1664), (3136, 1344))
_WIDE_4K = ((4096, 4096), (4704, 3520), (5504, 3040), (4992, 3328), (6240, 2656))
PRESETS_2K = tuple(dict.fromkeys([*_WIDE_2K, *((h, w) for w, h in _WIDE_2K)]))
PRESETS_4K = tuple(dict.fromkeys([*_WIDE_4K, *((h, w) for w, h in _WIDE_4K)]))

_SEEDREAM_INPUTS = ("png", "jpeg", "webp", "bmp", "tiff", "gif")
_BOTH_RESPONSES = ("url", "b64_json")

SEEDREAM_3_T2I = ModelSpec(
    id="doubao-seedream-3-0-t2i-250415", label="Seedream 3.0", price_micros=None,
    min_references=0, max_references=0, size_tiers=(), fixed_sizes=(),
    min_pixels=512 * 512, max_pixels=2048 * 2048, min_side=512, max_side=2048,
    default_size="1024x1024", largest_size="2048x2048",
    supports_seed=True, supports_guidance=True, supports_series=False,
    output_formats=("jpeg",), response_formats=_BOTH_RESPONSES, input_formats=(),
    max_prompt_chars=MAX_PROMPT_CHARS,
)  # fmt: skip
SEEDEDIT_3_I2I = ModelSpec(
    id="doubao-seededit-3-0-i2i-250628", label="SeedEdit 3.0", price_micros=None,
    min_references=1, max_references=1, size_tiers=(), fixed_sizes=("adaptive",),
    min_pixels=None, max_pixels=None, min_side=None, max_side=None,
    default_size="adaptive", largest_size="adaptive",
    supports_seed=True, supports_guidance=True, supports_series=False,
    output_formats=("jpeg",), response_formats=_BOTH_RESPONSES, input_formats=("png", "jpeg"),
    max_prompt_chars=MAX_PROMPT_CHARS,
)  # fmt: skip
SEEDREAM_4_0 = ModelSpec(
    id="doubao-seedream-4-0-250828", label="Seedream 4.0", price_micros=None,
    min_references=0, max_references=MAX_REFERENCES, size_tiers=("1K", "2K", "4K"), fixed_sizes=(),
    min_pixels=921_600, max_pixels=16_777_216, min_side=None, max_side=None,
    default_size="2048x2048", largest_size="4K",
    supports_seed=False, supports_guidance=False, supports_series=True,
    output_formats=("jpeg",), response_formats=_BOTH_RESPONSES, input_formats=_SEEDREAM_INPUTS,
    max_prompt_chars=MAX_PROMPT_CHARS,
)  # fmt: skip
SEEDREAM_4_5 = replace(
    SEEDREAM_4_0, id="doubao-seedream-4-5-251128", label="Seedream 4.5",
    size_tiers=("2K", "4K"), min_pixels=3_686_400,
)  # fmt: skip
SEEDREAM_5_0 = replace(
    SEEDREAM_4_0, id="doubao-seedream-5-0-260128", label="Seedream 5.0 Lite",
    size_tiers=("2K", "3K"), min_pixels=3_686_400, max_pixels=10_404_496, largest_size="3K",
    output_formats=("jpeg", "png"),
)  # fmt: skip
_GPT_IMAGE = ModelSpec(
    id="gpt-image-1.5", label="GPT Image 1.5", price_micros=None,
    min_references=0, max_references=0, size_tiers=(),
    fixed_sizes=("1024x1024", "1024x1536", "1536x1024", "auto"),
    min_pixels=None, max_pixels=None, min_side=None, max_side=None,
    default_size="1024x1024", largest_size="1536x1024",
    supports_seed=False, supports_guidance=False, supports_series=False,
    output_formats=("png",), response_formats=("b64_json",), input_formats=(),
    max_prompt_chars=4000, supports_watermark=False,
)  # fmt: skip
GPT_IMAGE_1_5 = _GPT_IMAGE
# gpt-image-2 also takes a custom WxH (xmsmartlink's page; the rules are OpenAI's): sides in
# multiples of 16, the longest at most 3840, at most 3:1, 655,360 to 8,294,400 pixels.
GPT_IMAGE_2 = replace(
    _GPT_IMAGE, id="gpt-image-2", label="GPT Image 2",
    min_pixels=655_360, max_pixels=8_294_400, max_side=3840, size_multiple=16, max_aspect=3,
)  # fmt: skip

# Gateway spellings of the same upstream models.
SEEDREAM_5_0_LITE_ALIAS = replace(SEEDREAM_5_0, id="doubao-seedream-5-0-lite")  # gogogotoken.ai
SEEDREAM_4_5_ALIAS = replace(SEEDREAM_4_5, id="doubao-seedream-4-5")  # gogogotoken.ai

SEEDREAM_MODELS: tuple[ModelSpec, ...] = (
    SEEDREAM_3_T2I, SEEDEDIT_3_I2I, SEEDREAM_4_0, SEEDREAM_4_5, SEEDREAM_5_0,
)  # fmt: skip

BUILTIN_MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {
        spec.id: spec
        for spec in (
            *SEEDREAM_MODELS,
            SEEDREAM_5_0_LITE_ALIAS,
            SEEDREAM_4_5_ALIAS,
            GPT_IMAGE_1_5,
            GPT_IMAGE_2,
        )
    }
)
