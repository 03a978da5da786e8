"""The gateways of shared/seeds plus "custom", and operator overrides of their model catalog."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from image_gateway import catalog as c
from image_gateway.catalog import ModelSpec
from image_gateway.money import price_to_micros, usd_to_micros

# gogogotoken.ai answers 400 to any size under 3,686,400 pixels, whatever the model.
GOGOGOTOKEN_AI_MIN_PIXELS = 3_686_400


@dataclass(frozen=True)
class Preset:
    name: str
    base_url: str  # "" for custom: the operator must give one
    models: Mapping[str, ModelSpec]
    default_model: str
    supports_n: bool
    supports_stream: bool
    has_models_endpoint: bool
    # Beyond the contract (defaulted): a gateway-wide pixel floor, applied to every model,
    # including models an operator adds later through build_catalog.
    min_pixels_floor: int | None = None

    def __post_init__(self) -> None:
        if self.default_model not in self.models:
            raise ValueError(
                f"preset {self.name!r}: default model {self.default_model!r} is not in its models"
            )
        if self.min_pixels_floor is not None:
            floored = {k: _apply_floor(v, self.min_pixels_floor) for k, v in self.models.items()}
        else:
            floored = dict(self.models)
        object.__setattr__(self, "models", MappingProxyType(floored))

    def model(self, model_id: str) -> ModelSpec:
        """The spec for a model id or label ("Seedream 4.5", any case), as members and IMAGE_MODEL
        name them; InvalidOptionError(option="model") naming the choices otherwise."""
        name = model_id.strip()
        for spec in self.models.values():
            if name.casefold() == spec.label.casefold():
                return spec
        try:
            return self.models[name]
        except KeyError:
            raise c.InvalidOptionError(
                "model", f"{model_id[:60]!r} is not offered here; choose {c.or_list(list(self.models))}.",
                "not_offered", value=model_id[:60], choices=tuple(self.models),
            ) from None  # fmt: skip


def _apply_floor(spec: ModelSpec, floor: int) -> ModelSpec:
    """Raise a model's WxH minimum to `floor` and drop tiers below it (1K is ~1 MP)."""
    if spec.min_pixels is None or spec.min_pixels >= floor:
        return spec
    tiers = tuple(t for t in spec.size_tiers if t != "1K")
    return replace(spec, min_pixels=floor, size_tiers=tiers)


def _models(*specs: ModelSpec, prices: Mapping[str, str] | None = None) -> dict[str, ModelSpec]:
    prices = prices or {}
    return {s.id: s.with_price(usd_to_micros(prices[s.id])) if s.id in prices else s for s in specs}


# supports_stream is our judgement, not a documented fact for every gateway: True where the page
# documents Ark's series parameters (so the Ark request/event shape is passed through: aiearth,
# xmsmartlink) and for "custom" (usually Ark-like); False where the page is a plain OpenAI-style
# text-to-image page with no sign of it (gogogotoken, 302.ai). Either way the client falls back
# to the JSON answer when a gateway ignores "stream", and asks once more without it when a gateway
# refuses a streamed request with a 400 or 422 before answering (see ImageClient._generate).
# supports_n: only the gogogotoken and xmsmartlink pages document "n"; elsewhere the client fans
# out n single calls. has_models_endpoint: only aiearth documents GET /models; "custom" assumes
# an OpenAI-style gateway (a failing list is harmless: it is a check, not a dependency).
_PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="gogogotoken-ai",
            base_url="https://gogogotoken.ai/v1",
            # Its page: leave size out (the gateway then makes 2048x2048).
            models=_models(
                replace(c.SEEDREAM_5_0_LITE_ALIAS, default_size=None),
                replace(c.SEEDREAM_4_5_ALIAS, default_size=None),
            ),
            default_model="doubao-seedream-5-0-lite",
            supports_n=True,
            supports_stream=False,
            has_models_endpoint=False,
            min_pixels_floor=GOGOGOTOKEN_AI_MIN_PIXELS,
        ),
        Preset(
            name="gogogotoken-com",
            base_url="https://gogogotoken.com/v1",
            models=_models(
                c.SEEDREAM_4_0,
                c.SEEDREAM_4_5,
                c.SEEDREAM_5_0,
                prices={
                    c.SEEDREAM_4_0.id: "0.162",
                    c.SEEDREAM_4_5.id: "0.135",
                    c.SEEDREAM_5_0.id: "0.135",
                },
            ),
            default_model=c.SEEDREAM_4_0.id,
            supports_n=True,
            supports_stream=False,
            has_models_endpoint=False,
        ),
        Preset(
            name="aiearth",
            base_url="https://api.aiearth.dev/v1",
            models=_models(
                c.SEEDREAM_5_0, c.SEEDREAM_4_5, c.SEEDREAM_4_0, c.SEEDREAM_3_T2I, c.SEEDEDIT_3_I2I
            ),
            default_model=c.SEEDREAM_5_0.id,
            supports_n=False,
            supports_stream=True,
            has_models_endpoint=True,
        ),
        Preset(
            name="302ai",
            base_url="https://api.302.ai/doubao",
            models=_models(*c.SEEDREAM_MODELS),
            default_model=c.SEEDREAM_3_T2I.id,
            supports_n=False,
            supports_stream=False,
            has_models_endpoint=False,
        ),
        Preset(
            name="xmsmartlink",
            base_url="https://vip.xmsmartlink.com/v1",
            models=_models(c.SEEDREAM_5_0, c.GPT_IMAGE_1_5, c.GPT_IMAGE_2),
            default_model=c.SEEDREAM_5_0.id,
            supports_n=True,
            supports_stream=True,
            has_models_endpoint=False,
        ),
        Preset(
            name="custom",
            base_url="",
            # The default first, as the README lists it: "the gateway's first model that can" (a
            # series, an upscale) is then the newest, not Seedream 3.0.
            models=_models(c.SEEDREAM_5_0, c.SEEDREAM_4_5, c.SEEDREAM_4_0, c.SEEDREAM_3_T2I, c.SEEDEDIT_3_I2I),
            default_model=c.SEEDREAM_5_0.id,
            supports_n=False,
            supports_stream=True,
            has_models_endpoint=True,
        ),
    )
}

PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)


def get_preset(name: str) -> Preset:
    try:
        return _PRESETS[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown gateway preset {name!r}; valid presets: {', '.join(PRESET_NAMES)}"
        ) from None


# -- operator overrides ---------------------------------------------------------------------------

_SPEC_FIELDS = {f.name: f for f in fields(ModelSpec)}
_OVERRIDABLE = (set(_SPEC_FIELDS) - {"id"}) | {"price_usd", "like"}
_TUPLE_FIELDS = {n for n, f in _SPEC_FIELDS.items() if str(f.type).startswith("tuple")}
_OPTIONAL_FIELDS = {n for n, f in _SPEC_FIELDS.items() if "None" in str(f.type)}
_TOP_LEVEL = {"models", "default_model"}
# Discord takes at most 100 characters in an autocomplete choice's value, and refuses the whole
# list of suggestions for one longer: the model suggestions send model ids.
MAX_MODEL_ID_CHARS = 100
MAX_MODEL_LABEL_CHARS = 100  # a label longer than a model id helps no one, and fills result lines


class CatalogError(ValueError):
    """The operator's catalog file or price table is wrong; the message names the file and key."""


def build_catalog(
    preset: Preset,
    *,
    catalog_file: Path | None = None,
    prices: Mapping[str, Decimal | str] | None = None,
) -> Preset:
    """A new Preset with the operator's model overrides and prices applied.

    The TOML file may set `default_model = "<id or label>"` and `[models."<id>"]` tables whose
    keys override ModelSpec fields (`price_usd = "0.135"` sets the price; the string "none" sets
    an optional field to None). A table for an id the preset lacks adds a model and needs
    `like = "<existing id>"` (looked up in the preset, then the built-in models). Each model the
    file names must then be one a request can use (`_checked`: its sizes, prompt limit, reference
    images and id), or CatalogError names the file, the model and the key.
    `prices` (model id -> USD) is applied last. A gateway's pixel floor (gogogotoken.ai)
    applies to every model, added ones included.
    """
    models = dict(preset.models)
    data: dict[str, Any] = {}
    if catalog_file is not None:
        data = _load_toml(catalog_file)
        models = _apply_file(models, data, str(catalog_file))
    for model_id, usd in (prices or {}).items():
        if model_id not in models:
            raise CatalogError(f"IMAGE_PRICES names a model this gateway does not offer: {model_id!r}; "
                               f"its models: {', '.join(models)}")
        try:
            models[model_id] = models[model_id].with_price(price_to_micros(usd))
        except (TypeError, ValueError) as exc:
            raise CatalogError(f"IMAGE_PRICES: the price for {model_id!r}: {exc}") from None
    built = replace(preset, models=models)  # the gateway's pixel floor, on added models too
    if catalog_file is None:
        return built
    checked = {
        model_id: _checked(built.models[model_id], f"{catalog_file}: [models.{model_id!r}]")
        for model_id in data.get("models", {})
    }
    built = replace(built, models={**built.models, **checked})
    if "default_model" in data:
        built = replace(built, default_model=_default_model(built, data["default_model"], catalog_file))
    return built


def _checked(spec: ModelSpec, here: str) -> ModelSpec:
    """`spec` as the catalog file made it, if a request can use it: CatalogError otherwise, not a
    refusal or a gateway error on every request. Its default and largest size go through the
    model's own size rules, as a member's size does, and are kept in that form ("2k" -> "2K")."""
    if len(spec.id) > MAX_MODEL_ID_CHARS:
        raise CatalogError(
            f"{here}: the model id has {len(spec.id)} characters; members pick models from Discord's "
            f"suggestions, which take at most {MAX_MODEL_ID_CHARS}"
        )
    if len(spec.label) > MAX_MODEL_LABEL_CHARS:
        raise CatalogError(
            f"{here}: the label has {len(spec.label)} characters; it is shown on every result and in "
            f"Discord's suggestions, so at most {MAX_MODEL_LABEL_CHARS}"
        )
    if spec.max_prompt_chars < 1:
        raise CatalogError(f"{here}: max_prompt_chars must be at least 1, not {spec.max_prompt_chars}")
    if spec.max_references > c.MAX_REFERENCES:
        raise CatalogError(
            f"{here}: max_references must be at most {c.MAX_REFERENCES} (Seedream takes {c.MAX_REFERENCES} "
            f"reference images, {c.MAX_TOTAL_IMAGES} images in all), not {spec.max_references}"
        )
    sizes: dict[str, str | None] = {}
    for key in ("default_size", "largest_size"):
        size = getattr(spec, key)
        if size is None:  # default_size "none": no size is sent
            continue
        try:
            sizes[key] = spec.normalize_size(size)
        except c.InvalidOptionError as exc:
            raise CatalogError(f"{here}: {key}: {exc.detail}") from None
    return replace(spec, **sizes)


def _default_model(preset: Preset, name: str, catalog_file: Path) -> str:
    """The file's default_model read as IMAGE_MODEL is (`Preset.model`: an id or a label)."""
    try:
        return preset.model(name).id
    except c.InvalidOptionError:
        offered = ", ".join(f"{spec.id} ({spec.label})" for spec in preset.models.values())
        raise CatalogError(
            f"{catalog_file}: default_model {name.strip()[:60]!r} is not offered by {preset.name}; "
            f"choose one of: {offered}"
        ) from None


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read the model catalog: {exc}") from None
    unknown = set(data) - _TOP_LEVEL
    if unknown:
        raise CatalogError(
            f"{path}: unknown key {sorted(unknown)[0]!r} (allowed: {', '.join(sorted(_TOP_LEVEL))})"
        )
    if not isinstance(data.get("models", {}), dict):
        raise CatalogError(f"{path}: 'models' must be tables like [models.\"<id>\"]")
    if not isinstance(data.get("default_model", ""), str):
        raise CatalogError(f"{path}: 'default_model' must be a model id in quotes")
    return data


def _apply_file(models: dict[str, ModelSpec], data: Mapping[str, Any], where: str) -> dict[str, ModelSpec]:
    for model_id, table in data.get("models", {}).items():
        here = f"{where}: [models.{model_id!r}]"
        if not isinstance(table, dict):
            raise CatalogError(f"{here} must be a table")
        unknown = set(table) - _OVERRIDABLE
        if unknown:
            raise CatalogError(f"{here}: unknown key {sorted(unknown)[0]!r}")
        base = _base_spec(models, model_id, table.get("like"), here)
        changes = {k: _convert(k, v, here) for k, v in table.items() if k not in ("like", "price_usd")}
        if "price_usd" in table:
            changes["price_micros"] = _price(table["price_usd"], here)
        try:
            models[model_id] = replace(base, id=model_id, **changes)
        except (TypeError, ValueError) as exc:
            raise CatalogError(f"{here}: {exc}") from None
    return models


def _base_spec(models: Mapping[str, ModelSpec], model_id: str, like: object, here: str) -> ModelSpec:
    if like is None:
        if model_id in models:
            return models[model_id]
        raise CatalogError(f'{here} is a new model: add like = "<existing model id>"')
    if not isinstance(like, str):
        raise CatalogError(f"{here}: 'like' must be a model id string")
    spec = models.get(like) or c.BUILTIN_MODELS.get(like)
    if spec is None:
        raise CatalogError(f"{here}: like = {like!r} is not a known model")
    return spec


def _price(value: object, here: str) -> int | None:
    if isinstance(value, str) and value.strip().lower() == "none":
        return None  # unknown price
    try:
        return price_to_micros(value)  # type: ignore[arg-type]  # checked by price_to_micros
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"{here}: price_usd: {exc}") from None


def _convert(key: str, value: object, here: str) -> object:
    if key in _OPTIONAL_FIELDS and isinstance(value, str) and value.strip().lower() == "none":
        return None
    if key in _TUPLE_FIELDS:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CatalogError(f"{here}: {key} must be a list of strings")
        return tuple(value)
    expected = str(_SPEC_FIELDS[key].type)
    ok = (
        (expected.startswith("bool") and isinstance(value, bool))
        or (expected.startswith("int") and isinstance(value, int) and not isinstance(value, bool))
        or (expected.startswith("str") and isinstance(value, str))
    )
    if not ok:
        raise CatalogError(f"{here}: {key} must be {expected}, not {type(value).__name__}")
    return value
