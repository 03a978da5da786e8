"""Discord attachments -> checked `Reference`s, before anything is spent.

Two steps, so that a bad attachment is refused as early as possible:

* :func:`precheck` (no I/O, before the defer): Discord's own metadata, size and dimensions, and
  the URL, which must be on Discord's CDN (:func:`is_discord_url`);
* :func:`load_references` (after the defer): download each attachment from its attachment URL
  (checked again: never any other host) with a size cap, check the bytes (really an image, whole,
  within 10 MB, 15..6000 px per side, aspect ratio within 1/16..16) and convert losslessly to a
  format the model takes (``prepare_reference``), off the event loop.

Checking decodes pixels (``images.decode_pixels``: a BMP, a TIFF's or GIF's first frame, an image
to convert; ~4 bytes a pixel and more), so the checks of all requests together decode at most
``DECODE_PIXELS`` at a time (one 6000x6000 image), and a request's references are checked one
after another, in order, stopping at the first bad one.

A bad attachment raises :class:`pipeline.explain.AttachmentError` naming it (and its number,
when there are several: pasted screenshots are all ``image.png``); its ``code`` is the
``ImageRejected`` code and selects the i18n sentence ``attachment.<code>``, so every member reads
the reason in their own language. The number is that of the option it was attached to (``image3``:
3), which is what the member sees: attachments are given in their options' order, ``None`` for an
option left empty. :func:`precheck` names every attachment it refuses at once
(:class:`pipeline.explain.AttachmentErrors`): nothing is downloaded, so there is no reason to stop
at the first.
"""

from __future__ import annotations

import asyncio
import collections
import io
import ipaddress
import logging
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import aiohttp
import discord
import yarl
from PIL import Image

from image_gateway.catalog import ModelSpec
from pipeline.explain import AttachmentError, AttachmentErrors
from pipeline.fetch import FetchError, download
from pipeline.images import (
    ImageInfo,
    ImageRejected,
    _check_dimensions,
    check_reference,
    decode_pixels,
    megabytes,
    orientation,
    read_header,
)
from pipeline.job import Reference

T = TypeVar("T")
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
_DIMENSION_CODES = {"too_small", "bad_aspect", "too_large_pixels", "bad_dimensions"}
_LIMITS = {"max_bytes": MAX_REFERENCE_BYTES, "max_side": MAX_SIDE, "min_side": MIN_SIDE, "max_aspect": MAX_ASPECT}
# Pixels decoded at full scale at once by reference checks, all requests together: one 6000x6000
# image (~150 MB as RGBA; a WebP converted for SeedEdit, ~550 MB, in Pillow's decoder).
DECODE_PIXELS = MAX_SIDE * MAX_SIDE


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


def precheck(attachments: Sequence[AttachmentLike | None]) -> None:
    """Refuse from Discord's metadata alone (where it is stored, size, and dimensions when
    Discord reports them). Every attachment refused is named, in one error: the member fixes
    them all before sending again."""
    refused = []
    for attachment, position in _numbered(attachments):
        try:
            _precheck_one(attachment, position)
        except AttachmentError as error:
            refused.append(error)
    if len(refused) == 1:
        raise refused[0]
    if refused:
        raise AttachmentErrors(refused)


def _precheck_one(attachment: AttachmentLike, position: int | None) -> None:
    _check_origin(attachment, position)
    if attachment.size > MAX_REFERENCE_BYTES:
        raise _too_large(attachment.filename, attachment.size, position)
    if attachment.width and attachment.height:
        try:
            _check_dimensions(
                attachment.width, attachment.height,
                max_side=MAX_SIDE, min_side=MIN_SIDE, max_aspect=MAX_ASPECT,
            )  # fmt: skip
        except ImageRejected as rejected:
            dims = (attachment.width, attachment.height)
            raise _rejected(attachment.filename, rejected, dims, position) from None


async def load_references(
    http: aiohttp.ClientSession, attachments: Sequence[AttachmentLike | None], model: ModelSpec
) -> list[Reference]:
    """Download every attachment (concurrently), then check and convert them one at a time, in
    order, within the process's `DECODE_PIXELS`: the first bad one is raised, and the downloads
    and checks of those after it are stopped. An option left empty (None) is skipped, counted
    only in the numbers the others are named by."""
    numbered = _numbered(attachments)
    downloads = [asyncio.ensure_future(_download(http, attachment, position)) for attachment, position in numbered]
    try:
        references = []
        for (attachment, position), data in zip(numbered, downloads, strict=True):
            references.append(await _check(attachment, await data, model, position))
        return references
    finally:
        for task in downloads:
            task.cancel()
        await asyncio.gather(*downloads, return_exceptions=True)  # failures after the first are not news


def _numbered(attachments: Sequence[AttachmentLike | None]) -> list[tuple[AttachmentLike, int | None]]:
    """Each attachment with the number to name it by in a refusal: its option's (`image` 1,
    `image3` 3, whichever were left empty: the member sees the options, not a count of what was
    given); None when it is alone."""
    given = [(attachment, number) for number, attachment in enumerate(attachments, start=1) if attachment is not None]
    if len(given) == 1:
        return [(given[0][0], None)]
    return given


def _check_origin(attachment: AttachmentLike, position: int | None) -> None:
    if not is_discord_url(attachment.url):
        log.warning("attachment %s refused: not a Discord attachment URL", attachment.filename)
        raise AttachmentError(attachment.filename, "is not stored on Discord", "not_from_discord", position=position)


async def _download(http: aiohttp.ClientSession, attachment: AttachmentLike, position: int | None) -> bytes:
    name = attachment.filename
    _check_origin(attachment, position)  # again here: a stored approval's links reach only this step
    try:
        return await download(http, attachment.url, max_bytes=MAX_REFERENCE_BYTES, timeout=DOWNLOAD_TIMEOUT)
    except FetchError as error:
        if error.code == "too_large":
            # Discord's metadata said less; how much more the body holds is unknown (not read)
            raise AttachmentError(
                name, "is over 10 MB", "over_size_limit", position=position, limit=MAX_REFERENCE_BYTES // MB
            ) from None
        log.warning("attachment %s could not be downloaded: %s", name, error)
        if error.status in (403, 404):  # its message was deleted (Discord's CDN drops the file): no try will do
            raise AttachmentError(name, "is no longer on Discord", "gone", position=position) from None
        raise AttachmentError(name, "could not be downloaded", "download_failed", position=position) from None


async def _check(attachment: AttachmentLike, data: bytes, model: ModelSpec, position: int | None) -> Reference:
    name = attachment.filename
    try:
        info = await asyncio.to_thread(read_header, data, **_LIMITS)
        turn = await asyncio.to_thread(orientation, data)
        pixels = decode_pixels(info, model.input_formats, upright=turn == 1)
        prepared, fmt = await _decoding(pixels, _check_and_convert, data, info, model.input_formats)
    except ImageRejected as rejected:
        known = (attachment.width, attachment.height) if attachment.width and attachment.height else None
        raise _rejected(name, rejected, known or await asyncio.to_thread(_header_size, data), position) from None
    converted = prepared is not data
    if converted:
        log.info("attachment %s converted to %s for %s", name, fmt, model.id)
    # A converted image has no Discord URL of its own: it always travels as a data URI.
    # As shown: a phone's portrait photo is stored 4032x3024, with an orientation turning it a quarter.
    width, height = (info.height, info.width) if turn in (5, 6, 7, 8) else (info.width, info.height)
    return Reference(filename=name, url=attachment.url, data=prepared, format=fmt, converted=converted,
                     width=width, height=height)  # fmt: skip


async def _decoding(pixels: int, work: Callable[..., T], *args: object) -> T:
    """`work(*args)` in a worker thread once `pixels` fit in the process's `DECODE_PIXELS`. A
    thread cannot be stopped: if the caller is cancelled meanwhile, the pixels stay counted
    until the thread ends."""
    budget = _PixelBudget.of_this_loop()
    await budget.take(pixels)

    def finished(task: asyncio.Future[T]) -> None:
        budget.give_back(pixels)
        if not task.cancelled():
            task.exception()  # retrieved here too: a cancelled caller is no longer there to

    task = asyncio.ensure_future(asyncio.to_thread(work, *args))
    task.add_done_callback(finished)
    return await asyncio.shield(task)


class _PixelBudget:
    """Pixels being decoded, first come first served; an image larger than the whole budget
    waits until nothing else is decoding. One per event loop (the bot has one)."""

    _current: _PixelBudget | None = None

    def __init__(self, pixels: int, loop: asyncio.AbstractEventLoop) -> None:
        self.pixels = pixels
        self.used = 0
        self.loop = loop
        self._waiting: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    @classmethod
    def of_this_loop(cls) -> _PixelBudget:
        loop = asyncio.get_running_loop()
        if cls._current is None or cls._current.loop is not loop:
            cls._current = cls(DECODE_PIXELS, loop)
        return cls._current

    async def take(self, pixels: int) -> None:
        pixels = min(pixels, self.pixels)
        if not self._waiting and self.used + pixels <= self.pixels:
            self.used += pixels
            return
        turn = self.loop.create_future()
        self._waiting.append((pixels, turn))
        try:
            await turn
        except asyncio.CancelledError:
            if not turn.cancelled():  # given its turn just as it was cancelled
                self.give_back(pixels)
            elif (pixels, turn) in self._waiting:
                self._waiting.remove((pixels, turn))
                self._wake()  # the next in line may fit now
            raise

    def give_back(self, pixels: int) -> None:
        self.used -= min(pixels, self.pixels)
        self._wake()

    def _wake(self) -> None:
        while self._waiting and self.used + self._waiting[0][0] <= self.pixels:
            pixels, turn = self._waiting.popleft()
            if not turn.done():  # a cancelled wait gets no turn
                self.used += pixels
                turn.set_result(None)


def _check_and_convert(data: bytes, info: ImageInfo, accepted: tuple[str, ...]) -> tuple[bytes, str]:
    return check_reference(data, info, accepted, max_bytes=MAX_REFERENCE_BYTES)


def _header_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # any failure: the message then does without the dimensions
        return None


def _too_large(name: str, size: int, position: int | None) -> AttachmentError:
    shown = megabytes(size)  # rounded up: 10 MB and one byte reads 10.1, over the limit
    return AttachmentError(
        name, f"is {shown} MB; the limit is 10 MB", "too_large_bytes",
        position=position, size=shown, limit=MAX_REFERENCE_BYTES // MB,
    )  # fmt: skip


def _rejected(
    name: str, rejected: ImageRejected, dims: tuple[int, int] | None, position: int | None
) -> AttachmentError:
    code, reason = rejected.code, rejected.reason
    if code in _DIMENSION_CODES:
        if dims is None:
            return AttachmentError(name, reason, "bad_dimensions", position=position)
        sized = "bad_dimensions_sized" if code == "bad_dimensions" else code  # the same rules, with its size
        return AttachmentError(name, reason, sized, position=position, width=dims[0], height=dims[1])
    if code == "too_large_bytes":  # only a conversion can grow past the cap the download kept
        return AttachmentError(
            name, reason, "too_large_converted", position=position, limit=MAX_REFERENCE_BYTES // MB
        )
    return AttachmentError(name, reason, code, position=position)
