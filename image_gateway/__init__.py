"""The OpenAI-Images gateway client for Seedream: catalog, presets, errors, client."""

from image_gateway.catalog import BUILTIN_MODELS, InvalidOptionError, ModelSpec
from image_gateway.client import (
    Completed,
    FailedImage,
    GeneratedImage,
    GenerationRequest,
    ImageClient,
    build_body,
)
from image_gateway.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    GatewayError,
    InternalServerError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    make_status_error,
    scrub,
)
from image_gateway.money import format_usd, usd_to_micros
from image_gateway.presets import PRESET_NAMES, CatalogError, Preset, build_catalog, get_preset

__all__ = [
    "BUILTIN_MODELS",
    "PRESET_NAMES",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CatalogError",
    "Completed",
    "FailedImage",
    "GatewayError",
    "GeneratedImage",
    "GenerationRequest",
    "ImageClient",
    "InternalServerError",
    "InvalidOptionError",
    "InvalidResponseError",
    "ModelSpec",
    "NotFoundError",
    "PermissionDeniedError",
    "Preset",
    "RateLimitError",
    "build_body",
    "build_catalog",
    "format_usd",
    "get_preset",
    "make_status_error",
    "scrub",
    "usd_to_micros",
]
