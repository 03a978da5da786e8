"""Image bytes for the double: cheap gradients for tests, noisy "realistic" blobs for the benchmark.

Rendering a realistic 2K image costs about a second of CPU, so blobs are rendered in a worker
thread and kept in a process-wide cache keyed by (width, height, format, realistic); a few
variants per key are rendered and then served in turn.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

from PIL import Image, ImageChops

REALISTIC_VARIANTS = 3
FAST_VARIANTS = 1
MIN_RENDER_SIDE = 16
NOISE_SIGMA = {"png": 8.0, "jpeg": 12.0}  # 2K: PNG about 9-10 MB, JPEG about 1.5 MB
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
TINTS = ((210, 190, 170), (170, 200, 215), (200, 215, 170), (220, 170, 200))

_CACHE: dict[tuple[int, int, str, bool], list[Blob]] = {}


@dataclass(frozen=True)
class Blob:
    data: bytes
    fmt: str  # "png" or "jpeg", also the file extension served
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]


def render_size(logical: tuple[int, int], scale: float, override: tuple[int, int] | None) -> tuple[int, int]:
    """Pixel size actually rendered for a logical output size."""
    if override:
        return override
    width, height = logical
    return max(MIN_RENDER_SIDE, round(width * scale)), max(MIN_RENDER_SIDE, round(height * scale))


async def get_blob(width: int, height: int, fmt: str, realistic: bool, counter: int) -> Blob:
    """One of the cached variants for this key, rendering it on first use."""
    key = (width, height, fmt, realistic)
    variants = _CACHE.setdefault(key, [])
    wanted = counter % (REALISTIC_VARIANTS if realistic else FAST_VARIANTS)
    while len(variants) <= wanted:
        blob = await asyncio.to_thread(render, width, height, fmt, realistic, len(variants))
        if len(variants) <= wanted:  # another task may have rendered it meanwhile
            variants.append(blob)
    return variants[wanted]


def render(width: int, height: int, fmt: str, realistic: bool, variant: int = 0) -> Blob:
    image = _gradient(width, height, TINTS[variant % len(TINTS)])
    if realistic:
        image = _add_noise(image, NOISE_SIGMA[fmt])
    return Blob(encode(image, fmt), fmt, width, height)


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, "PNG", compress_level=1)
    else:
        image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _gradient(width: int, height: int, tint: tuple[int, int, int]) -> Image.Image:
    horizontal = Image.linear_gradient("L").rotate(90).resize((width, height))
    vertical = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    base = Image.merge("RGB", (horizontal, vertical, radial))
    return ImageChops.multiply(base, Image.new("RGB", (width, height), tint))


def _add_noise(image: Image.Image, sigma: float) -> Image.Image:
    noise = Image.merge("RGB", [Image.effect_noise(image.size, sigma) for _ in range(3)])
    return ImageChops.add(image, noise, scale=1.0, offset=-128)
