"""Image checks and conversions for references and results.

Every function here is synchronous and CPU-bound: call it through ``asyncio.to_thread``, except
``check_container`` on a result held in memory (a header and, for a JPEG, its last two bytes:
well under a millisecond for a 2K JPEG, less than the trip to a thread costs on a busy event
loop).
Everything is decided from the bytes themselves, never from a file name or a content type.

Memory: ``inspect_image`` (``check_integrity``) checks a PNG by streaming its compressed data
through zlib (CRC of every chunk plus a full inflate, with a bounded output buffer) and decodes
a JPEG at 1/8 scale, so checking an image costs far less than holding its pixels. A WebP is
checked by its container (libwebp's demuxer, at open, parses every frame's bitstream header;
here the RIFF framing): Pillow's WebP decoder holds four full RGBA copies, ~550 MB for a
1.4 KB 6000x6000 file. An animated GIF or a multi-page TIFF has every frame's framing checked
(a GIF's blocks to its trailer, a TIFF's strips or tiles within the file) and its first frame
decoded; a BMP is decoded. ``decode_pixels`` says how many pixels a check decodes at full
scale, for callers that bound it. ``fit_to_limit`` decodes one image and re-encodes it.
"""

from __future__ import annotations

import base64
import io
import struct
import sys
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from math import log, sqrt
from typing import IO

from PIL import Image, ImageOps, TiffImagePlugin, UnidentifiedImageError, WebPImagePlugin  # noqa: F401 - see below

# Pillow's plugins for the formats the bot reads and writes, loaded now (the common ones by
# `preinit`, TIFF and WebP by the imports above) rather than by Pillow at the first image opened:
# ~7 ms, ~23 ms at a WebP or TIFF (all its plugins then), with the event loop stopped behind a
# burst's first result.
Image.preinit()

__all__ = [
    "ImageInfo",
    "ImageRejected",
    "check_container",
    "check_integrity",
    "check_reference",
    "decode_pixels",
    "fit_to_limit",
    "inspect_image",
    "megabytes",
    "orientation",
    "prepare_reference",
    "read_header",
    "sniff_format",
    "to_data_uri",
    "turned",
]

MB = 1024 * 1024

# Our format name -> Pillow's plugin name. Pillow is only ever asked to open the sniffed format.
_PIL_FORMATS = {
    "png": "PNG",
    "jpeg": "JPEG",
    "webp": "WEBP",
    "gif": "GIF",
    "bmp": "BMP",
    "tiff": "TIFF",
}
_SUPPORTED_TEXT = "PNG, JPEG, WebP, BMP, TIFF or GIF"
_BMP_DIB_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


@dataclass(frozen=True)
class ImageInfo:
    format: str  # as sniff_format names it: "png", "jpeg", ...
    width: int
    height: int
    size_bytes: int


class ImageRejected(ValueError):
    """An image the model (or Discord) will not take.

    ``reason`` completes a sentence about the image ("Your image {reason}.") and is safe to
    show to users; ``code`` is for logs, metrics and tests.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"ImageRejected(code={self.code!r}, reason={self.reason!r})"


# --------------------------------------------------------------------------- sniffing


def sniff_format(data: bytes) -> str | None:
    """The image format from the magic bytes: png, jpeg, webp, gif, bmp, tiff, or None."""
    head = bytes(data[:32])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    # "BM" alone is too weak (any text starting with "BM"); also require a known DIB header size.
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and struct.unpack_from("<I", head, 14)[0] in _BMP_DIB_HEADER_SIZES
    ):
        return "bmp"
    return None


def _sniff_unsupported(data: bytes) -> str | None:
    """A human name for well-known image formats the models do not take."""
    head = bytes(data[:64])
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return "an AVIF image"
        if brand in _HEIF_BRANDS:
            return "a HEIC image"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "a JPEG XL image"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "an icon (ICO) file"
    if head.startswith(b"8BPS"):
        return "a Photoshop file"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    text = head.lstrip().lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in bytes(data[:1024]).lower()):
        return "an SVG image"
    return None


# --------------------------------------------------------------------------- inspection


def _human_size(n: int) -> str:
    """Rounded up, so a size over a limit never reads as the limit itself (10 MB + 1 byte: 10.1 MB)."""
    if n >= MB:
        return f"{megabytes(n)} MB"
    return f"{max(1, -(-n // 1024))} KB"


def megabytes(n: int) -> str:
    """``n`` bytes in MB with one decimal, rounded up: "10.1" for 10 MB and one byte."""
    return f"{-(-n * 10 // MB) / 10:.1f}"


def _human_limit(n: int) -> str:
    if n >= MB:
        return f"{n // MB} MB" if n % MB == 0 else f"{n / MB:.1f} MB"
    return f"{max(1, n // 1024)} KB"


def _open(data: bytes | IO[bytes], fmt: str) -> Image.Image:
    """Open (header only) with exactly the sniffed plugin; map Pillow's failures to rejections."""
    try:
        return Image.open(io.BytesIO(data) if isinstance(data, bytes) else data, formats=[_PIL_FORMATS[fmt]])
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_large_pixels", "has far too many pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise ImageRejected("corrupt", "is a damaged image file") from exc


def _check_dimensions(width: int, height: int, *, max_side: int, min_side: int, max_aspect: int) -> None:
    small = min(width, height) < min_side
    skewed = max(width, height) > max_aspect * min(width, height)
    large = max(width, height) > max_side
    if small or skewed:
        rule = f"each side must be over {min_side - 1} px"
        if large:
            rule += f" and at most {max_side} px"
        ratio = f"1:{max_aspect} to {max_aspect}:1"
        # One rule broken is named alone; several ("1x20000": too thin, too skewed, too long) are
        # told together, not one after another as the member fixes each.
        code = "bad_dimensions" if small + skewed + large > 1 else "too_small" if small else "bad_aspect"
        raise ImageRejected(code, f"is {width}x{height} pixels; {rule} and the aspect ratio within {ratio}")
    if large:
        raise ImageRejected(
            "too_large_pixels", f"is {width}x{height} pixels, larger than {max_side}x{max_side}"
        )


def inspect_image(
    data: bytes,
    *,
    max_bytes: int = 10 * MB,
    max_side: int = 6000,
    min_side: int = 15,
    max_aspect: int = 16,
    decode: bool = True,
) -> ImageInfo:
    """Check that ``data`` is a whole, decodable image within the limits; raise ImageRejected if not.

    Order, cheapest first: byte size, magic bytes, header (dimensions and aspect ratio, before
    any pixel is decoded, which is also the decompression-bomb guard), then an integrity check
    of the whole file (see the module docstring). Limits default to Seedream's reference rules.

    ``decode=False`` (a gateway result posted as it is) checks the container instead of the
    pixels when it can (`check_container`); other formats, and a JPEG with bytes after its
    EOI, still get the full check.
    """
    image = io.BytesIO(data)  # shares `data`, copies nothing
    info = _header(image, max_bytes=max_bytes, max_side=max_side, min_side=min_side, max_aspect=max_aspect)
    if decode or not _container_intact(image, info.format):
        check_integrity(data, info.format)
    return info


def read_header(
    data: bytes, *, max_bytes: int = 10 * MB, max_side: int = 6000, min_side: int = 15, max_aspect: int = 16
) -> ImageInfo:
    """`inspect_image`'s first steps (byte size, magic bytes, dimensions and aspect ratio), no
    pixel decoded: `check_integrity` (or a conversion, which decodes) must follow."""
    return _header(io.BytesIO(data), max_bytes=max_bytes, max_side=max_side, min_side=min_side, max_aspect=max_aspect)


def decode_pixels(info: ImageInfo, accepted_formats: tuple[str, ...], *, upright: bool = True) -> int:
    """Pixels that checking an image (`check_integrity`) and preparing it as a reference
    (`prepare_reference`) decode at full scale, each ~4 bytes and more: what the check costs in
    memory. A format the model does not take, or an image stored turned (not `upright`), is
    converted from its first frame, decoded whole; a JPEG is checked at 1/8 scale, a WebP by its
    container; a PNG decodes nothing unless the inflate check disagrees with its header."""
    pixels = info.width * info.height
    if info.format not in _normalized(accepted_formats) or not upright:
        return pixels
    if info.format == "jpeg":
        return -(-pixels // 64)
    return 0 if info.format == "webp" else pixels


def check_container(
    image: IO[bytes], *, max_bytes: int, max_side: int, min_side: int, max_aspect: int
) -> ImageInfo | None:
    """`inspect_image(decode=False)` without its fallback: the header and the container only,
    never a pixel. None when the container cannot tell (another format, a JPEG with bytes after
    its EOI, an odd PNG): then the full check is needed.

    The container: every PNG chunk's CRC and IEND (no inflate), a JPEG's end-of-image marker as
    its last bytes. That catches a truncated or damaged download at a tenth of the cost (17 ms
    -> 1 ms for a 2K JPEG, 85 ms -> 4 ms for a 9 MB PNG); what it cannot see is an encoder that
    wrote a well-framed but undecodable stream.

    `image` is a seekable file, read only where the check looks (the first KiB and the header;
    a JPEG's last two bytes, a PNG whole), so a JPEG held in memory in the pieces it was
    downloaded in is never joined. It is left rewound.
    """
    try:
        info = _header(image, max_bytes=max_bytes, max_side=max_side, min_side=min_side, max_aspect=max_aspect)
        return info if _container_intact(image, info.format) else None
    finally:
        image.seek(0)


def _header(image: IO[bytes], *, max_bytes: int, max_side: int, min_side: int, max_aspect: int) -> ImageInfo:
    size = image.seek(0, io.SEEK_END)
    image.seek(0)
    data = image.read(1024)  # enough to sniff the format or name another one
    image.seek(0)
    if size == 0:
        raise ImageRejected("not_image", "is an empty file")
    if size > max_bytes:
        raise ImageRejected(
            "too_large_bytes", f"is {_human_size(size)}; the limit is {_human_limit(max_bytes)}"
        )
    fmt = sniff_format(data)
    if fmt is None:
        other = _sniff_unsupported(data)
        if other is not None:
            raise ImageRejected("unsupported_format", f"is {other}; use {_SUPPORTED_TEXT}")
        raise ImageRejected("not_image", "is not an image")

    with _open(image, fmt) as im:
        width, height = im.size
    _check_dimensions(width, height, max_side=max_side, min_side=min_side, max_aspect=max_aspect)
    return ImageInfo(format=fmt, width=width, height=height, size_bytes=size)


def check_integrity(data: bytes, fmt: str, *, decode: bool = True) -> None:
    """Raise ImageRejected("corrupt") unless the whole file is intact: every frame's framing (a
    truncated download ends inside one), and the pixels as the module docstring says.
    ``decode=False``: the framing only, for an image whose first frame is about to be decoded
    anyway (a conversion)."""
    if fmt == "png":
        try:
            _check_png_stream(data, inflate=decode)
        except _PngBroken as exc:
            if exc.definitive:
                raise ImageRejected("corrupt", "is a damaged image file") from exc
            if decode:  # our own inflate check disagreed: let the real decoder have the last word
                _full_decode(data, fmt)
        return
    try:
        _check_frames(data, fmt)
    except (_Broken, struct.error, IndexError) as exc:
        raise ImageRejected("corrupt", "is a damaged image file") from exc
    if decode and fmt != "webp":  # a WebP's bitstreams were parsed by libwebp's demuxer at open
        _full_decode(data, fmt)


class _Broken(Exception):
    """A file whose framing is damaged (truncated, or a block or chunk past its end)."""


def _check_frames(data: bytes, fmt: str) -> None:
    if fmt == "webp":
        _check_webp_chunks(data)
    elif fmt == "gif":
        _check_gif_blocks(data)
    elif fmt == "tiff":
        _check_tiff_pages(data)


def _check_webp_chunks(data: bytes) -> None:
    """The RIFF container as long as it says, every chunk within it, and an image chunk in it."""
    riff_size, _ = struct.unpack_from("<I4s", data, 4)
    end = 8 + riff_size
    if riff_size < 4 or end > len(data):
        raise _Broken("truncated RIFF")
    pos, images = 12, 0
    while pos < end:
        if pos + 8 > end:
            raise _Broken("chunk header past the end")
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        if pos + 8 + size > end:
            raise _Broken(f"chunk {fourcc!r} past the end")
        images += fourcc in (b"VP8 ", b"VP8L", b"ANMF")
        pos += 8 + size + (size & 1)
    if not images:
        raise _Broken("no image chunk")


def _check_gif_blocks(data: bytes) -> None:
    """Every block (extensions, frames: descriptor, colour table, LZW data) whole, up to the trailer."""
    pos = 13 + _gif_colour_table(data[10])  # header and logical screen descriptor, sniffed and opened
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            return
        if block == 0x21:  # extension: its label, then sub-blocks
            pos = _gif_sub_blocks(data, pos + 2)
        elif block == 0x2C and pos + 10 <= len(data):  # a frame: descriptor, colour table, LZW code size
            pos = _gif_sub_blocks(data, pos + 11 + _gif_colour_table(data[pos + 9]))
        else:
            raise _Broken(f"unexpected block {block:#x} at {pos}")
    raise _Broken("no trailer")


def _gif_colour_table(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _gif_sub_blocks(data: bytes, pos: int) -> int:
    """Where the sub-blocks starting at ``pos`` end (after their empty terminator)."""
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    raise _Broken("sub-blocks past the end")


# Strip and tile offsets and byte counts are SHORT (3) or LONG (4): struct's and array's codes.
_TIFF_INTEGERS = {3: "H", 4: "I"}
_NATIVE_ORDER = "<" if sys.byteorder == "little" else ">"
# (offsets, byte counts): StripOffsets, StripByteCounts; TileOffsets, TileByteCounts.
_TIFF_DATA_TAGS = ((273, 279), (324, 325))


def _check_tiff_pages(data: bytes) -> None:
    """Every page (IFD) within the file, and each page's strips or tiles too."""
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack_from(f"{order}I", data, 4)
    seen: set[int] = set()
    while offset:
        if offset in seen or offset < 8:
            raise _Broken("IFD loop")
        seen.add(offset)
        (count,) = struct.unpack_from(f"{order}H", data, offset)
        fields = {}
        for entry in range(offset + 2, offset + 2 + 12 * count, 12):
            tag, kind, n, value = struct.unpack_from(f"{order}HHI4s", data, entry)
            if any(tag in pair for pair in _TIFF_DATA_TAGS):
                fields[tag] = _tiff_integers(data, order, kind, n, value)
        if not any(_tiff_data_within(data, fields.get(at), fields.get(length)) for at, length in _TIFF_DATA_TAGS):
            raise _Broken(f"page at {offset}: image data missing or past the end")
        (offset,) = struct.unpack_from(f"{order}I", data, offset + 2 + 12 * count)


def _tiff_integers(data: bytes, order: str, kind: int, n: int, value: bytes) -> Sequence[int]:
    code = _TIFF_INTEGERS.get(kind)
    if code is None:
        raise _Broken(f"offsets of type {kind}")
    size = struct.calcsize(code) * n
    if size <= 4:
        return struct.unpack_from(f"{order}{n}{code}", value)
    (at,) = struct.unpack(f"{order}I", value)  # stored elsewhere
    if at + size > len(data):
        raise _Broken("field past the end")
    values = array(code, data[at : at + size])  # a strip per row of a 10 MB file: 4 bytes each, not a tuple
    if order != _NATIVE_ORDER:
        values.byteswap()
    return values


def _tiff_data_within(data: bytes, offsets: Sequence[int] | None, lengths: Sequence[int] | None) -> bool:
    if not offsets:
        return False
    if lengths is None:  # old writers leave the byte counts out: the data must at least start in the file
        return all(at < len(data) for at in offsets)
    return len(lengths) == len(offsets) and all(at + n <= len(data) for at, n in zip(offsets, lengths, strict=True))


def _container_intact(image: IO[bytes], fmt: str) -> bool:
    """PNG: every CRC matches and IEND is there (raises when not). JPEG: ends with EOI.
    False: this format (or this file) needs the full check."""
    if fmt == "png":
        image.seek(0)
        try:
            _check_png_stream(image.read(), inflate=False)
        except _PngBroken as exc:
            if exc.definitive:
                raise ImageRejected("corrupt", "is a damaged image file") from exc
            return False  # odd but perhaps valid: the real decoder decides
        return True
    if fmt != "jpeg":
        return False
    # Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so FFD9 at
    # the very end is the real end of the image: a truncated download does not end that way.
    image.seek(-2, io.SEEK_END)  # a JPEG whose header Pillow read is longer than two bytes
    return image.read(2) == b"\xff\xd9"


def _full_decode(data: bytes, fmt: str) -> None:
    """verify() then a real decode of the first frame (JPEG at 1/8 scale: same stream, 1/64 memory)."""
    try:
        with _open(data, fmt) as im:
            im.verify()
        with _open(data, fmt) as im:
            if fmt == "jpeg":
                im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_large_pixels", "has far too many pixels") from exc
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, IndexError, TypeError) as exc:
        raise ImageRejected("corrupt", "is a damaged image file") from exc


class _PngBroken(Exception):
    def __init__(self, why: str, *, definitive: bool) -> None:
        super().__init__(why)
        self.definitive = definitive


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_INFLATE_STEP = 1 << 20


def _png_raw_size(width: int, height: int, depth: int, color: int, interlace: int) -> int:
    """Bytes of filtered scanlines the IDAT stream must inflate to."""
    bits = depth * _PNG_CHANNELS.get(color, 0)
    if bits == 0:
        raise _PngBroken("bad colour type", definitive=False)

    def block(w: int, h: int) -> int:
        return h * (1 + (w * bits + 7) // 8) if w and h else 0

    def passes(size: int, start: int, step: int) -> int:
        return (size - start + step - 1) // step if size > start else 0

    if not interlace:
        return block(width, height)
    return sum(block(passes(width, x0, dx), passes(height, y0, dy)) for x0, y0, dx, dy in _ADAM7)


def _check_png_stream(data: bytes, *, inflate: bool = True) -> None:
    """Walk the chunks: every CRC must match, IEND must be there, and IDAT must inflate fully.

    Truncation and CRC errors are definitive (libpng and Go's image/png reject them too). An
    inflate result that differs from what IHDR promises is reported as not definitive.
    ``inflate=False`` skips the inflate (CRCs, framing and IEND only).
    """
    view = memoryview(data)
    pos, end = 8, len(data)
    inflater = zlib.decompressobj()
    expected: int | None = None
    produced = 0
    while True:
        if pos + 12 > end:
            raise _PngBroken("truncated", definitive=True)
        length, ctype = struct.unpack_from(">I4s", data, pos)
        body_end = pos + 8 + length
        if body_end + 4 > end:
            raise _PngBroken("truncated", definitive=True)
        (crc,) = struct.unpack_from(">I", data, body_end)
        if zlib.crc32(view[pos + 4 : body_end]) != crc:
            raise _PngBroken(f"bad CRC in {ctype!r}", definitive=True)
        if ctype == b"IHDR" and length >= 13:
            width, height, depth, color, _, _, interlace = struct.unpack_from(">IIBBBBB", data, pos + 8)
            expected = _png_raw_size(width, height, depth, color, interlace)
        elif ctype == b"IDAT":
            if expected is None:
                raise _PngBroken("IDAT before IHDR", definitive=False)
            if inflate:
                produced += _inflate_discard(inflater, view[pos + 8 : body_end], expected - produced)
        elif ctype == b"IEND":
            break
        pos = body_end + 4
    if not inflate:
        if expected is None:
            raise _PngBroken("no IHDR", definitive=False)
        return
    if expected is None or not inflater.eof or produced != expected:
        raise _PngBroken("image data does not match the header", definitive=False)


def _inflate_discard(inflater: zlib._Decompress, chunk: memoryview, room: int) -> int:
    """Inflate ``chunk`` in bounded steps, throwing the output away; return how much came out."""
    produced = 0
    pending: bytes | memoryview = chunk
    while not inflater.eof:
        try:
            out = inflater.decompress(pending, _INFLATE_STEP)
        except zlib.error as exc:
            raise _PngBroken("bad deflate stream", definitive=False) from exc
        produced += len(out)
        if produced > room:
            raise _PngBroken("more image data than the header allows", definitive=False)
        pending = inflater.unconsumed_tail
        if not pending and len(out) < _INFLATE_STEP:
            break
    return produced


# --------------------------------------------------------------------------- conversion


def _first_frame(data: bytes) -> Image.Image:
    """Decode the first frame, upright (EXIF orientation applied)."""
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected("not_image", "is not an image")
    im = _open(data, fmt)
    try:
        im.seek(0)
        im.load()
        upright = ImageOps.exif_transpose(im)
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, IndexError, TypeError) as exc:
        im.close()
        raise ImageRejected("corrupt", "is a damaged image file") from exc
    if upright is not im:
        im.close()
    return upright


def _png_ready(im: Image.Image) -> Image.Image:
    """A mode PNG stores without loss of what the eye sees."""
    if im.mode in ("1", "L", "LA", "RGB", "RGBA", "I;16"):
        return im
    if im.mode == "P":
        return im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("PA", "La", "RGBa"):
        return im.convert("RGBA")
    if im.mode.startswith("I") or im.mode == "F":
        return im.convert("I;16") if im.mode.startswith("I;16") else im.convert("RGB")
    return im.convert("RGBA" if im.has_transparency_data else "RGB")


def _flatten_rgb(im: Image.Image) -> Image.Image:
    """RGB for JPEG: transparent areas go onto white."""
    if im.mode == "RGB":
        return im
    if im.mode == "P" or im.has_transparency_data or im.mode in ("LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


def _encode(im: Image.Image, fmt: str, *, quality: int = 95, icc_profile: bytes | None = None) -> bytes:
    """`icc_profile`: the colour profile to embed (a phone's Display P3; without it the colours
    read as sRGB, duller), given only when `im` is still in the profile's colour space."""
    buf = io.BytesIO()
    extra = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "png":
        im.save(buf, "PNG", compress_level=6, **extra)
    else:
        im.save(buf, "JPEG", quality=quality, **extra)
    return buf.getvalue()


def _profile_of(frame: Image.Image, ready: Image.Image) -> bytes | None:
    """`frame`'s colour profile, if `ready` (what is encoded) is `frame` itself: a conversion
    (CMYK or grey to RGB, a palette expanded) leaves the profile describing other colours."""
    return frame.info.get("icc_profile") if ready is frame else None


def prepare_reference(
    data: bytes, accepted_formats: tuple[str, ...], *, max_bytes: int = 10 * MB
) -> tuple[bytes, str]:
    """Bytes and format (lowercase) of a reference image the model accepts.

    Already accepted and stored upright: the original bytes, untouched. A photo stored turned
    (a phone's EXIF orientation, `turned`) is sent upright, re-encoded (a JPEG at quality 95 down
    to 75, its colour profile kept; another format as PNG): the bot asks for the size of the
    photo as it is shown, and a model that does not read EXIF would see it on its side. One that
    would not fit `max_bytes` so goes as it is. Otherwise the
    first frame (of a GIF, animated WebP, multi-page TIFF) is converted losslessly to PNG when
    the model takes PNG; if that PNG would exceed ``max_bytes`` (a photo stored as WebP or BMP
    can grow) or the model takes only JPEG, it becomes a JPEG at quality 95 down to 85. Raises
    ImageRejected when nothing the model accepts fits. Call ``inspect_image`` first, or
    ``read_header`` then ``check_integrity`` (``decode=False`` when converting: decoding the
    first frame here is the check of what is sent).
    """
    accepted = _normalized(accepted_formats)
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected("not_image", "is not an image")
    if fmt in accepted and not turned(data):
        return data, fmt
    frame = _first_frame(data)
    try:
        if fmt in accepted:  # turned: upright, a JPEG still where it was one
            try:
                if fmt == "jpeg":
                    return _as_jpeg(frame, max_bytes, _TURNED_QUALITIES), "jpeg"
                return _as_png(frame, max_bytes)
            except ImageRejected:  # larger once re-encoded: as it is, its EXIF turn for the model to read
                return data, fmt
        if "png" in accepted:
            try:
                return _as_png(frame, max_bytes)
            except ImageRejected:
                if "jpeg" not in accepted:
                    raise
        if "jpeg" in accepted:
            return _as_jpeg(frame, max_bytes), "jpeg"
    finally:
        frame.close()
    names = ", ".join(f.upper() for f in accepted) or "nothing"
    raise ImageRejected("unsupported_format", f"is {fmt.upper()}; this model takes {names}")


def _as_png(frame: Image.Image, max_bytes: int) -> tuple[bytes, str]:
    """`frame` as a PNG within `max_bytes` (ImageRejected if it is larger)."""
    ready = _png_ready(frame)
    out = _encode(ready, "png", icc_profile=_profile_of(frame, ready))
    if len(out) > max_bytes:
        raise ImageRejected(
            "too_large_bytes", f"is {_human_size(len(out))} as PNG; the limit is {_human_limit(max_bytes)}"
        )
    return out, "png"


_QUALITIES = (95, 90, 85)  # a conversion to JPEG: high quality, or refused
_TURNED_QUALITIES = (95, 90, 85, 80, 75)  # a JPEG turned upright: down to a camera's own 75 before it goes as stored


def _as_jpeg(frame: Image.Image, max_bytes: int, qualities: tuple[int, ...] = _QUALITIES) -> bytes:
    """`frame` as a JPEG within `max_bytes`, at the first of `qualities` it fits at."""
    rgb = _flatten_rgb(frame)
    profile = _profile_of(frame, rgb)
    for quality in qualities:
        out = _encode(rgb, "jpeg", quality=quality, icc_profile=profile)
        if len(out) <= max_bytes:
            return out
    raise ImageRejected(
        "too_large_bytes", f"is {_human_size(len(out))} as JPEG; the limit is {_human_limit(max_bytes)}"
    )


_ORIENTATION = 0x0112  # the EXIF tag: 1 as stored, 2 to 8 mirrored and/or turned (5 to 8: a quarter turn)


def orientation(data: bytes) -> int:
    """The EXIF orientation of an image (1, as stored, when it has none or it cannot be read)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(_ORIENTATION, 1)
    except Exception:  # any failure: as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def turned(data: bytes) -> bool:
    """Whether an image is shown otherwise than stored (its EXIF orientation mirrors or turns it)."""
    return orientation(data) != 1


def check_reference(
    data: bytes, info: ImageInfo, accepted_formats: tuple[str, ...], *, max_bytes: int = 10 * MB
) -> tuple[bytes, str]:
    """After ``read_header``: `check_integrity` then `prepare_reference`. Sent as it is, the whole
    file is checked; converted (or turned upright), its framing is, and decoding its first frame
    to convert it is the pixels' check (one decode, not two)."""
    as_it_is = info.format in _normalized(accepted_formats) and not turned(data)
    check_integrity(data, info.format, decode=as_it_is)
    return prepare_reference(data, accepted_formats, max_bytes=max_bytes)


def _normalized(formats: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f.lower().replace("jpg", "jpeg") for f in formats)


def to_data_uri(data: bytes, fmt: str) -> str:
    """``data:image/<fmt>;base64,...`` with the format lowercase ("jpg" becomes "jpeg")."""
    name = fmt.lower().strip()
    if name == "jpg":
        name = "jpeg"
    return f"data:image/{name};base64,{base64.b64encode(data).decode('ascii')}"


# --------------------------------------------------------------------------- upload limit

_QUALITIES = (95, 90, 85, 80)
_MIN_FIT_SIDE = 16


def fit_to_limit(data: bytes, limit_bytes: int) -> tuple[bytes, str]:
    """Bytes and file extension (``sniff_format``'s name: "png", "jpeg", ...) within ``limit_bytes``.

    Unchanged when it already fits. Otherwise the first frame is decoded once (upright,
    transparency flattened onto white) and encoded as JPEG at quality 95, 90, 85 then 80
    (straight to 80 when far over), then scaled down from that one decode (see _fit_scale).
    Never returns more than ``limit_bytes``; raises ValueError when that is impossible.
    """
    if limit_bytes <= 0:
        raise ValueError("limit_bytes must be positive")
    fmt = sniff_format(data)
    if fmt is None:
        raise ValueError("not a recognised image")
    if len(data) <= limit_bytes:
        return data, fmt

    try:
        frame = _first_frame(data)
    except ImageRejected as exc:
        raise ValueError(f"cannot re-encode: image {exc.reason}") from exc
    with frame:
        base = _flatten_rgb(frame)
    try:
        out, fits = _fit_quality(base, limit_bytes)
        return (out if fits else _fit_scale(base, limit_bytes, out)), "jpeg"
    finally:
        base.close()


def _fit_quality(im: Image.Image, limit: int) -> tuple[bytes, bool]:
    """Step the JPEG quality down, straight to the lowest when far over; (last encode, fits)."""
    out = b""
    i = 0
    while i < len(_QUALITIES):
        out = _encode(im, "jpeg", quality=_QUALITIES[i])
        if len(out) <= limit:
            return out, True
        i = i + 1 if len(out) < 1.6 * limit else max(i + 1, len(_QUALITIES) - 1)
    return out, False


def _fit_scale(base: Image.Image, limit: int, last: bytes) -> bytes:
    """Scale down from the full-size decode until the lowest-quality JPEG fits.

    Shrinking steps assume JPEG size grows with the pixel count (scale squared). Once a size
    fits but wastes more than 15% of the limit, up to two secant steps (in log space, between
    the fitting and the smallest overflowing scale) win back resolution.
    """
    over, over_len = 1.0, len(last)
    scale = 1.0
    while True:
        scale *= max(0.25, min(0.85, 0.95 * sqrt(limit / len(last))))
        last = _encode_scaled(base, scale)
        if len(last) <= limit:
            break
        over, over_len = scale, len(last)
    best, fits = last, scale
    for _ in range(2):
        if len(best) >= 0.85 * limit:
            break
        exponent = log(over_len / len(best)) / log(over / fits)
        guess = fits * (0.95 * limit / len(best)) ** (1 / max(1.0, exponent))
        trial_scale = min(max(guess, fits + 0.1 * (over - fits)), over - 0.1 * (over - fits))
        trial = _encode_scaled(base, trial_scale)
        if len(trial) <= limit:
            best, fits = trial, trial_scale
        else:
            over, over_len = trial_scale, len(trial)
    return best


def _encode_scaled(base: Image.Image, scale: float) -> bytes:
    width, height = round(base.width * scale), round(base.height * scale)
    if min(width, height) < _MIN_FIT_SIDE:
        raise ValueError("cannot fit the image into the limit")
    with base.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0) as small:
        return _encode(small, "jpeg", quality=_QUALITIES[-1])
