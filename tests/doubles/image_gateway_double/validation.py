"""Request validation: turns a JSON body into a Job, or raises GatewayError like the gateways do."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

from .models import TIER_SQUARE, Flavour, ModelRule, tier_size

MAX_REFERENCE_BYTES = 10 * 1024 * 1024
MAX_REFERENCE_SIDE = 6000
MIN_REFERENCE_SIDE = 15  # "each side over 14 px"
MAX_SERIES = 15
ADAPTIVE_FALLBACK = (1024, 1024)
_DATA_URI = re.compile(r"data:image/([^;,]*);base64,(.*)", re.DOTALL)
_WXH = re.compile(r"(\d{1,6})[xX*](\d{1,6})")

Fetch = Callable[[str], Awaitable[bytes | None]]


class GatewayError(Exception):
    """An error answer: status plus the documented {"error": {...}} body."""

    def __init__(
        self, status: int, code: str, message: str, param: str | None = None, type_: str | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type_ or default_error_type(status)

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        message = f"{self.message} Request id: {request_id}" if request_id else self.message
        return {"error": {"code": self.code, "message": message, "param": self.param, "type": self.type}}


def default_error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    if status == 403:
        return "permission_error"
    return "invalid_request_error"


def invalid(param: str, detail: str) -> GatewayError:
    return GatewayError(
        400,
        "InvalidParameter",
        f"The parameter `{param}` specified in the request is not valid: {detail}.",
        param,
    )


def bad_image(detail: str) -> GatewayError:
    return GatewayError(
        400, "InvalidImageURL", f"The image specified in the request is not valid: {detail}.", "image"
    )


@dataclass
class Reference:
    source: str  # "url" or "data"
    url: str | None = None
    size: tuple[int, int] | None = None  # known when decoded or fetched


@dataclass
class Job:
    """A validated request."""

    rule: ModelRule
    prompt: str
    count: int
    size: tuple[int, int]  # logical output size, what a real gateway would produce
    response_format: str
    output_format: str
    stream: bool
    series: bool
    references: list[Reference] = field(default_factory=list)


@dataclass
class Policy:
    """The double's configurable behaviour that validation depends on."""

    flavour: Flavour
    forbidden_words: Sequence[str] = ("forbidden",)
    series_count: int | None = None
    fetch: Fetch | None = None  # downloads loopback reference URLs; None: record only


async def validate(body: Any, policy: Policy) -> Job:
    if not isinstance(body, dict):
        raise GatewayError(400, "InvalidParameter", "The request body must be a JSON object.")
    rule = _model(body, policy.flavour)
    prompt = _prompt(body, policy.forbidden_words)
    response_format = _response_format(body, rule)
    output_format = _output_format(body, rule)
    references = await _references(body, rule, policy.fetch)
    series, count = _count(body, rule, policy, len(references))
    size = _size(body.get("size"), rule, prompt, references)
    stream = body.get("stream") is True and policy.flavour.supports_stream
    return Job(rule, prompt, count, size, response_format, output_format, stream, series, references)


def _model(body: dict[str, Any], flavour: Flavour) -> ModelRule:
    model = body.get("model")
    if model is None or model == "":
        raise GatewayError(
            400, "MissingParameter", "The request failed because it is missing `model`.", "model"
        )
    if not isinstance(model, str) or model not in flavour.models:
        raise GatewayError(
            404,
            "model_not_found",
            f"The model `{model}` does not exist or you do not have access to it.",
            "model",
        )
    return flavour.models[model]


def _prompt(body: dict[str, Any], forbidden_words: Sequence[str]) -> str:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise GatewayError(
            400, "MissingParameter", "The request failed because it is missing `prompt`.", "prompt"
        )
    lowered = prompt.lower()
    if any(word.lower() in lowered for word in forbidden_words if word):
        raise GatewayError(
            400,
            "InputTextSensitiveContentDetected",
            "The request failed because the input text may contain sensitive information.",
            "prompt",
        )
    return prompt


def _response_format(body: dict[str, Any], rule: ModelRule) -> str:
    value = body.get("response_format")
    if value is None:
        return "url" if "url" in rule.response_formats else rule.response_formats[0]
    if value not in rule.response_formats:
        raise invalid(
            "response_format", f"{value!r} is not supported, use one of {', '.join(rule.response_formats)}"
        )
    return value


def _output_format(body: dict[str, Any], rule: ModelRule) -> str:
    default = "jpeg" if "jpeg" in rule.output_formats else rule.output_formats[0]
    value = body.get("output_format")
    if value is None or len(rule.output_formats) == 1:
        return default  # models without a choice ignore the field, as Ark does
    if value not in rule.output_formats:
        raise invalid("output_format", f"{value!r} is not supported, use png or jpeg")
    return value


def _count(body: dict[str, Any], rule: ModelRule, policy: Policy, refs: int) -> tuple[bool, int]:
    mode = body.get("sequential_image_generation")
    if mode not in (None, "auto", "disabled"):
        raise invalid("sequential_image_generation", "use auto or disabled")
    options = body.get("sequential_image_generation_options") or {}
    if not isinstance(options, dict):
        raise invalid("sequential_image_generation_options", "must be an object")
    max_images = options.get("max_images", MAX_SERIES)
    if isinstance(max_images, bool) or not isinstance(max_images, int) or not 1 <= max_images <= MAX_SERIES:
        raise invalid("sequential_image_generation_options.max_images", "must be an integer from 1 to 15")
    if mode == "auto" and rule.series:
        if refs + max_images > MAX_SERIES:
            raise invalid(
                "sequential_image_generation_options.max_images",
                "reference images plus output images may not exceed 15",
            )
        wanted = policy.series_count or max_images
        return True, max(1, min(wanted, max_images, MAX_SERIES - refs))
    return False, _n(body, policy.flavour)


def _n(body: dict[str, Any], flavour: Flavour) -> int:
    if not flavour.supports_n or "n" not in body:
        return 1  # Ark has no n: one image
    n = body["n"]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise invalid("n", "must be an integer from 1 to 10")
    return n


def _size(value: Any, rule: ModelRule, prompt: str, refs: list[Reference]) -> tuple[int, int]:
    size = rule.default_size if value is None else value
    if not isinstance(size, str) or not size:
        raise invalid("size", "must be a string")
    if size in rule.fixed_sizes:
        return _fixed_size(size, refs)
    tier = size.upper()
    if tier in TIER_SQUARE:
        if tier not in rule.tiers:
            raise invalid("size", f"{size} is not supported by {rule.id}; {_allowed(rule)}")
        return _check_pixels(tier_size(tier, prompt), rule, size)
    match = _WXH.fullmatch(size)
    if not match or (rule.min_pixels is None and rule.min_side is None):
        raise invalid("size", f"{size!r} is not supported; {_allowed(rule)}")
    return _check_wxh((int(match[1]), int(match[2])), rule, size)


def _fixed_size(size: str, refs: list[Reference]) -> tuple[int, int]:
    if size == "adaptive":
        known = [ref.size for ref in refs if ref.size]
        return known[0] if known else ADAPTIVE_FALLBACK
    if size == "auto":
        return 1024, 1024
    width, height = size.split("x")
    return int(width), int(height)


def _check_wxh(dims: tuple[int, int], rule: ModelRule, text: str) -> tuple[int, int]:
    width, height = dims
    if (rule.min_side and min(width, height) < rule.min_side) or (
        rule.max_side and max(width, height) > rule.max_side
    ):
        raise invalid("size", f"{text} is out of range; {_allowed(rule)}")
    if width == 0 or height == 0 or not 1 / rule.max_aspect <= width / height <= rule.max_aspect:
        raise invalid("size", f"{text} has an aspect ratio outside 1/{rule.max_aspect:g}..{rule.max_aspect:g}")
    if width % rule.size_multiple or height % rule.size_multiple:
        raise invalid("size", f"{text}: each side must be a multiple of {rule.size_multiple}")
    return _check_pixels(dims, rule, text)


def _check_pixels(dims: tuple[int, int], rule: ModelRule, text: str) -> tuple[int, int]:
    pixels = dims[0] * dims[1]
    if (rule.min_pixels and pixels < rule.min_pixels) or (rule.max_pixels and pixels > rule.max_pixels):
        raise invalid("size", f"{text} ({pixels} pixels) is out of range; {_allowed(rule)}")
    return dims


def _allowed(rule: ModelRule) -> str:
    parts = list(rule.tiers) + list(rule.fixed_sizes)
    if rule.min_side:
        parts.append(f"WxH with each side {rule.min_side}..{rule.max_side}")
    elif rule.min_pixels:
        parts.append(f"WxH with {rule.min_pixels}..{rule.max_pixels} pixels")
    return "allowed: " + ", ".join(parts)


async def _references(body: dict[str, Any], rule: ModelRule, fetch: Fetch | None) -> list[Reference]:
    raw = body.get("image")
    entries = [] if raw is None else [raw] if isinstance(raw, str) else raw
    if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
        raise invalid("image", "must be a string or an array of strings")
    if len(entries) > rule.max_refs:
        raise invalid("image", f"{rule.id} takes at most {rule.max_refs} reference images")
    if len(entries) < rule.min_refs:
        raise invalid("image", f"{rule.id} needs exactly {rule.min_refs} reference image")
    return [await _reference(entry, rule, fetch) for entry in entries]


async def _reference(entry: str, rule: ModelRule, fetch: Fetch | None) -> Reference:
    if entry.startswith("data:"):
        return Reference("data", size=await _decode_data_uri(entry, rule))
    parts = urlsplit(entry)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_image("use an http(s) URL or a data URI data:image/<format>;base64,<data>")
    reference = Reference("url", url=entry)
    if fetch is not None and is_loopback(parts.hostname):
        data = await fetch(entry)
        if data is None:
            raise bad_image("the image could not be downloaded")
        reference.size = await asyncio.to_thread(check_image_bytes, data)
    return reference


async def _decode_data_uri(entry: str, rule: ModelRule) -> tuple[int, int]:
    match = _DATA_URI.fullmatch(entry)
    if not match:
        raise bad_image("a data URI must look like data:image/<format>;base64,<data>")
    fmt = match[1]
    if fmt != fmt.lower() or fmt not in rule.input_formats:
        raise bad_image(f"format {fmt!r} is not supported (lowercase {', '.join(rule.input_formats)})")
    try:
        data = base64.b64decode(match[2], validate=True)
    except (binascii.Error, ValueError):
        raise bad_image("the base64 data cannot be decoded") from None
    return await asyncio.to_thread(check_image_bytes, data)


def check_image_bytes(data: bytes) -> tuple[int, int]:
    """Size of a reference image, or bad_image if it is not one the model would take."""
    if len(data) > MAX_REFERENCE_BYTES:
        raise bad_image("the image is larger than 10 MB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise bad_image("the data is not a readable image") from None
    if min(width, height) < MIN_REFERENCE_SIDE or max(width, height) > MAX_REFERENCE_SIDE:
        raise bad_image(f"{width}x{height} is outside 15..6000 pixels per side")
    if not 1 / 16 <= width / height <= 16:
        raise bad_image("the aspect ratio is outside 1/16..16")
    return width, height


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
