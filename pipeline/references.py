"""Discord attachments -> checked `Reference`s, before anything is spent.

Two steps, so that a bad attachment is refused as early as possible:

* :func:`precheck` (no I/O, before the defer): Discord's own metadata, size and dimensions, and
  the URL, which must be on Discord's CDN (:func:`is_discord_url`);
* :func:`load_references` (after the defer): download each attachment from its attachment URL
  (checked again: never any other host) with a size cap, check the bytes (``inspect_image``: really an image,
  within 10 MB, 15..6000 px per side, aspect ratio within 1/16..16) and convert losslessly to a
  format the model takes (``prepare_reference``), off the event loop.

A bad attachment raises :class:`pipeline.explain.AttachmentError` naming it; its ``code`` is the
``ImageRejected`` code and selects the i18n sentence ``attachment.<code>``, so every member reads
the reason in their own language.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import logging
from collections.abc import Sequence
from typing import Protocol

import aiohttp
import discord
import yarl
from PIL import Image

from image_gateway.catalog import ModelSpec
from pipeline.explain import AttachmentError
from pipeline.fetch import FetchError, download
from pipeline.images import ImageRejected, _check_dimensions, inspect_image, prepare_reference
from pipeline.job import Reference

log = logging.getLogger(__name__)

MB = 1024 * 1024
MAX_REFERENCE_BYTES = 10 * MB
MAX_SIDE = 6000
MIN_SIDE = 15  # "each side over 14 px"
MAX_ASPECT = 16
DOWNLOAD_TIMEOUT = 60.0
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
# Where Discord serves attachments. An attachment's URL comes from the interaction payload (or a
# stored approval), so it is checked: the bot never fetches an address a payload names elsewhere.
DISCORD_CDN_HOSTS = ("cdn.discordapp.com", "media.discordapp.net")
_DIMENSION_CODES = {"too_small", "bad_aspect", "too_large_pixels"}


class AttachmentLike(Protocol):
    """What is read from a `discord.Attachment`."""

    filename: str
    url: str
    size: int
    width: int | None
    height: int | None
    content_type: str | None


def looks_like_image(attachment: AttachmentLike) -> bool:
    """Worth trying as an image (the bytes decide later): an image content type or extension.

    Dimensions prove nothing (Discord gives videos a width and height too), and a video or audio
    content type rules the file out whatever its name."""
    content_type = (attachment.content_type or "").lower()
    if content_type.startswith("image/"):
        return True
    if content_type.startswith(("video/", "audio/")):
        return False
    return attachment.filename.lower().endswith(IMAGE_EXTENSIONS)


def is_discord_url(url: str) -> bool:
    """True for an https URL on Discord's CDN, or on the host discord.py talks to when
    DISCORD_API_BASE_URL points it elsewhere (a proxy, a test double: `Route.BASE`), on any port
    there, since such a stand-in may serve its files apart from its API; a stand-in on this
    machine (loopback) may name it either way (127.0.0.1, localhost)."""
    try:
        parsed = yarl.URL(url)
    except (TypeError, ValueError):
        return False
    if not parsed.is_absolute() or parsed.host is None:
        return False
    host = parsed.host.lower().rstrip(".")
    if parsed.scheme == "https" and parsed.port == 443 and host in DISCORD_CDN_HOSTS:
        return True
    if parsed.scheme not in ("http", "https"):
        return False
    base = (yarl.URL(discord.http.Route.BASE).host or "").lower().rstrip(".")
    return host == base or (_is_loopback(base) and _is_loopback(host))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def precheck(attachments: Sequence[AttachmentLike]) -> None:
    """Refuse from Discord's metadata alone (where it is stored, size, and dimensions when
    Discord reports them)."""
    for attachment in attachments:
        _check_origin(attachment)
        if attachment.size > MAX_REFERENCE_BYTES:
            raise _too_large(attachment.filename, attachment.size)
        if attachment.width and attachment.height:
            try:
                _check_dimensions(
                    attachment.width, attachment.height,
                    max_side=MAX_SIDE, min_side=MIN_SIDE, max_aspect=MAX_ASPECT,
                )  # fmt: skip
            except ImageRejected as rejected:
                raise _rejected(attachment.filename, rejected, (attachment.width, attachment.height)) from None


async def load_references(
    http: aiohttp.ClientSession, attachments: Sequence[AttachmentLike], model: ModelSpec
) -> list[Reference]:
    """Download, check and convert every attachment (concurrently); the first bad one, in order, is raised."""
    results = await asyncio.gather(
        *(_load(http, attachment, model) for attachment in attachments), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)  # type: ignore[arg-type]


def _check_origin(attachment: AttachmentLike) -> None:
    if not is_discord_url(attachment.url):
        log.warning("attachment %s refused: not a Discord attachment URL", attachment.filename)
        raise AttachmentError(attachment.filename, "is not stored on Discord", "not_from_discord")


async def _load(http: aiohttp.ClientSession, attachment: AttachmentLike, model: ModelSpec) -> Reference:
    name = attachment.filename
    _check_origin(attachment)  # again here: a stored approval's links reach only this step
    try:
        data = await download(http, attachment.url, max_bytes=MAX_REFERENCE_BYTES, timeout=DOWNLOAD_TIMEOUT)
    except FetchError as error:
        if error.code == "too_large":
            # Discord's metadata said less; how much more the body holds is unknown (not read)
            raise AttachmentError(
                name, "is over 10 MB", "over_size_limit", limit=MAX_REFERENCE_BYTES // MB
            ) from None
        log.warning("attachment %s could not be downloaded: %s", name, error)
        raise AttachmentError(name, "could not be downloaded", "download_failed") from None
    try:
        prepared, fmt = await asyncio.to_thread(_check_and_convert, data, model.input_formats)
    except ImageRejected as rejected:
        known = (attachment.width, attachment.height) if attachment.width and attachment.height else None
        raise _rejected(name, rejected, known or await asyncio.to_thread(_header_size, data)) from None
    converted = prepared is not data
    if converted:
        log.info("attachment %s converted to %s for %s", name, fmt, model.id)
    # A converted image has no Discord URL of its own: it always travels as a data URI.
    return Reference(filename=name, url=attachment.url, data=prepared, format=fmt, converted=converted)


def _check_and_convert(data: bytes, accepted: tuple[str, ...]) -> tuple[bytes, str]:
    inspect_image(data, max_bytes=MAX_REFERENCE_BYTES, max_side=MAX_SIDE, min_side=MIN_SIDE, max_aspect=MAX_ASPECT)
    return prepare_reference(data, accepted, max_bytes=MAX_REFERENCE_BYTES)


def _header_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # any failure: the message then does without the dimensions
        return None


def _too_large(name: str, size: int) -> AttachmentError:
    return AttachmentError(
        name, f"is {_megabytes(size)} MB; the limit is 10 MB", "too_large_bytes",
        size=_megabytes(size), limit=MAX_REFERENCE_BYTES // MB,
    )  # fmt: skip


def _megabytes(size: int) -> str:
    return f"{size / MB:.1f}"


def _rejected(name: str, rejected: ImageRejected, dims: tuple[int, int] | None) -> AttachmentError:
    code = rejected.code
    if code in _DIMENSION_CODES:
        if dims is None:
            return AttachmentError(name, rejected.reason, "bad_dimensions")
        return AttachmentError(name, rejected.reason, code, width=dims[0], height=dims[1])
    if code == "too_large_bytes":  # only a conversion can grow past the cap the download kept
        return AttachmentError(name, rejected.reason, "too_large_converted", limit=MAX_REFERENCE_BYTES // MB)
    return AttachmentError(name, rejected.reason, code)
