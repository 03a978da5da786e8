"""pipeline.images: sniffing, inspection, reference preparation and fitting to an upload limit."""

from __future__ import annotations

import base64
import io
import random
import struct
import time
import zlib

import pytest
from PIL import Image, WebPImagePlugin

from pipeline import images
from pipeline.images import (
    ImageInfo,
    ImageRejected,
    check_container,
    fit_to_limit,
    inspect_image,
    prepare_reference,
    sniff_format,
    to_data_uri,
)
from pipeline.spool import HeldImage, MemoryBudget

MB = 1024 * 1024
SEEDREAM_4 = ("png", "jpeg", "webp", "bmp", "tiff", "gif")
PNG_JPEG = ("png", "jpeg")


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def gradient(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    w, h = size
    im = Image.new("RGB", size)
    im.putdata(
        [
            ((x * 255) // max(1, w - 1), (y * 255) // max(1, h - 1), (x * y) % 256)
            for y in range(h)
            for x in range(w)
        ]
    )
    return im if mode == "RGB" else im.convert(mode)


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    w, h = size
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(w * h * 3))


def animated_gif() -> tuple[bytes, Image.Image]:
    frames = [
        gradient((40, 30)),
        Image.new("RGB", (40, 30), (255, 0, 0)),
        Image.new("RGB", (40, 30), (0, 0, 255)),
    ]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(io.BytesIO(data)) as first:
        first.seek(0)
        expected = first.convert("RGB")
    return data, expected


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_with_header(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose IHDR claims width x height (8-bit RGB) with whatever IDAT we give it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat or zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def interlaced_png(im: Image.Image) -> bytes:
    """Adam7-interlaced 8-bit RGB PNG (Pillow cannot write one), filter type 0 on every row."""
    w, h = im.size
    px = im.load()
    raw = bytearray()
    for x0, y0, dx, dy in (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ):
        xs = range(x0, w, dx)
        if not xs:
            continue
        for y in range(y0, h, dy):
            raw.append(0)
            for x in xs:
                raw.extend(px[x, y])
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(bytes(raw)))
        + png_chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- sniff


@pytest.mark.parametrize(
    ("fmt", "pil", "kw"),
    [
        ("png", "PNG", {}),
        ("jpeg", "JPEG", {}),
        ("webp", "WEBP", {}),
        ("gif", "GIF", {}),
        ("bmp", "BMP", {}),
        ("tiff", "TIFF", {}),
        ("tiff", "TIFF", {"compression": "tiff_lzw"}),
    ],
)
def test_sniff_and_inspect_every_supported_format(fmt: str, pil: str, kw: dict) -> None:
    data = encode(gradient(), pil, **kw)
    assert sniff_format(data) == fmt
    assert inspect_image(data) == ImageInfo(format=fmt, width=64, height=48, size_bytes=len(data))


def test_sniff_big_endian_tiff_and_unknowns() -> None:
    assert sniff_format(b"MM\x00*" + b"\0" * 20) == "tiff"
    assert sniff_format(b"") is None
    assert sniff_format(b"BM is not a bitmap, just text that starts with BM") is None
    assert sniff_format(b"RIFF\0\0\0\0WAVEfmt ") is None
    assert sniff_format(b"hello world") is None


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_png_modes_pass_the_streaming_check(mode: str) -> None:
    data = encode(gradient((37, 19), mode), "PNG")
    images._check_png_stream(data)  # exact, not via the Pillow fallback
    assert inspect_image(data).format == "png"


def test_interlaced_png_passes_the_streaming_check() -> None:
    src = gradient((23, 19))
    data = interlaced_png(src)
    with Image.open(io.BytesIO(data)) as im:
        assert im.info.get("interlace") == 1
        assert im.convert("RGB").tobytes() == src.tobytes()
    images._check_png_stream(data)
    assert inspect_image(data).width == 23


def test_animated_gif_and_webp_are_accepted() -> None:
    data, _ = animated_gif()
    assert inspect_image(data).format == "gif"
    frames = [gradient((32, 32)), Image.new("RGB", (32, 32), "red")]
    webp = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert inspect_image(webp).format == "webp"


# --------------------------------------------------------------------------- rejections


def rejected(data: bytes, **kw: int) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        inspect_image(data, **kw)
    return info.value


def test_text_file_named_png_is_not_an_image() -> None:
    err = rejected(b"just some notes, saved as photo.png\n" * 10)
    assert (err.code, err.reason) == ("not_image", "is not an image")
    assert rejected(b"").code == "not_image"


def test_heic_and_other_unsupported_formats() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 100
    err = rejected(heic)
    assert err.code == "unsupported_format"
    assert err.reason == "is a HEIC image; use PNG, JPEG, WebP, BMP, TIFF or GIF"
    assert "AVIF" in rejected(b"\x00\x00\x00\x1cftypavif" + b"\0" * 40).reason
    assert "SVG" in rejected(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>').reason


def test_truncated_png_is_corrupt() -> None:
    data = encode(noise((200, 200)), "PNG")
    for cut in (len(data) // 2, len(data) - 12, 40):
        err = rejected(data[:cut])
        assert (err.code, err.reason) == ("corrupt", "is a damaged image file")


def test_png_with_a_flipped_byte_is_corrupt() -> None:
    data = bytearray(encode(noise((100, 100)), "PNG"))
    data[len(data) // 2] ^= 0xFF
    assert rejected(bytes(data)).code == "corrupt"


def test_png_with_valid_crc_but_broken_deflate_is_corrupt() -> None:
    # CRCs are right, so only a real inflate/decode can tell.
    assert rejected(png_with_header(64, 64, idat=b"\x78\x9c" + b"\xff" * 200)).code == "corrupt"
    # Stream is valid zlib but far too short for 64x64.
    assert rejected(png_with_header(64, 64, idat=zlib.compress(b"\0" * 100))).code == "corrupt"


@pytest.mark.parametrize(
    ("pil", "kw"), [("JPEG", {}), ("JPEG", {"progressive": True}), ("WEBP", {}), ("GIF", {}), ("TIFF", {})]
)
def test_truncated_other_formats_are_corrupt(pil: str, kw: dict) -> None:
    data = encode(noise((300, 200)), pil, **kw)
    assert rejected(data[: len(data) // 2]).code == "corrupt"


def several_frames(fmt: str, **kw: object) -> bytes:
    frames = [noise((64, 48), seed) for seed in range(3)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], **kw)


@pytest.mark.parametrize(
    ("pil", "kw"), [("GIF", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_deflate"}), ("WEBP", {"lossless": True})]
)
def test_a_file_cut_inside_a_later_frame_is_corrupt(pil: str, kw: dict) -> None:
    """Frame 1 decodes; the framing of every frame says the file is damaged."""
    data = several_frames(pil, **kw)
    assert inspect_image(data).format == pil.lower()
    for cut in (100, len(data) // 4, 1 if pil == "GIF" else 40):  # a GIF's last byte is its trailer
        assert rejected(data[:-cut]).code == "corrupt", cut


def test_gif_and_tiff_framing_faults_are_corrupt() -> None:
    gif = several_frames("GIF")
    assert gif.endswith(b"\x3b")
    assert rejected(gif[:-1] + b"\x99").code == "corrupt"  # not a block where the trailer was
    tiff = bytearray(several_frames("TIFF"))  # little-endian, as Pillow writes it here
    pages, at = [], struct.unpack_from("<I", tiff, 4)[0]
    while at:
        pages.append(at)
        next_at = at + 2 + 12 * struct.unpack_from("<H", tiff, at)[0]
        at = struct.unpack_from("<I", tiff, next_at)[0]
    assert len(pages) == 3
    struct.pack_into("<I", tiff, next_at, pages[1])  # the last page points back at the second
    assert rejected(bytes(tiff)).code == "corrupt"


def test_a_webp_sent_as_it_is_is_checked_without_decoding_its_pixels(monkeypatch) -> None:
    """Pillow's WebP decoder holds four RGBA copies (~550 MB for a 1.4 KB 6000x6000 file)."""
    webp = encode(noise((300, 200)), "WEBP")
    info = images.read_header(webp)
    assert images.decode_pixels(info, SEEDREAM_4) == 0
    assert images.decode_pixels(info, PNG_JPEG) == 300 * 200  # converted: decoded whole
    jpeg = images.read_header(encode(noise((300, 200)), "JPEG"))
    assert images.decode_pixels(jpeg, SEEDREAM_4) == 300 * 200 // 64 + 1

    def no_decode(self):
        raise AssertionError("decoded")

    monkeypatch.setattr(WebPImagePlugin.WebPImageFile, "load", no_decode)
    assert inspect_image(webp).format == "webp"
    assert images.check_reference(webp, info, SEEDREAM_4) == (webp, "webp")
    with pytest.raises(AssertionError):
        images.check_reference(webp, info, PNG_JPEG)


def test_sizes_over_a_limit_are_rounded_up() -> None:
    sizes = (10 * MB, 10 * MB + 1, 10 * MB - 1, MB // 10)
    assert [images.megabytes(n) for n in sizes] == ["10.0", "10.1", "10.0", "0.1"]
    assert rejected(b"\x89PNG\r\n\x1a\n" + bytes(10 * MB - 7)).reason == "is 10.1 MB; the limit is 10 MB"


def result_check(data: bytes) -> ImageInfo:
    return inspect_image(data, max_bytes=64 * MB, max_side=65535, min_side=1, max_aspect=1000, decode=False)


@pytest.mark.parametrize(("pil", "kw"), [("PNG", {}), ("JPEG", {}), ("JPEG", {"progressive": True})])
def test_container_check_takes_whole_images_and_refuses_truncated_ones(pil: str, kw: dict) -> None:
    data = encode(noise((300, 200)), pil, **kw)
    assert result_check(data) == ImageInfo(pil.lower(), 300, 200, len(data))
    for cut in (len(data) // 2, len(data) - 1, len(data) - 3):
        with pytest.raises(ImageRejected) as caught:
            result_check(data[:cut])
        assert caught.value.code == "corrupt"


def test_container_check_refuses_a_png_with_a_flipped_byte() -> None:
    data = bytearray(encode(noise((100, 100)), "PNG"))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ImageRejected, match="damaged"):
        result_check(bytes(data))


def test_container_check_decodes_what_it_cannot_judge() -> None:
    jpeg = encode(noise((64, 48)), "JPEG")
    assert result_check(jpeg + b"trailing bytes").width == 64  # no EOI at the end: decoded, fine
    with pytest.raises(ImageRejected):
        result_check(jpeg[: len(jpeg) // 2] + b"\xff")  # no EOI, and decoding finds it cut short
    assert result_check(encode(gradient((40, 30)), "WEBP")).format == "webp"  # other formats: decoded


def test_check_container_leaves_what_it_cannot_judge_to_the_full_check() -> None:
    def container(data: bytes) -> ImageInfo | None:
        return check_container(io.BytesIO(data), max_bytes=64 * MB, max_side=65535, min_side=1, max_aspect=1000)

    jpeg = encode(noise((64, 48)), "JPEG")
    png = encode(noise((64, 48)), "PNG")
    assert container(jpeg) == ImageInfo("jpeg", 64, 48, len(jpeg))
    assert container(png) == ImageInfo("png", 64, 48, len(png))
    # Never decodes: a JPEG without EOI at its end (cut short, or trailing bytes) and other
    # formats are for inspect_image to decode.
    assert container(jpeg[: len(jpeg) // 2]) is None
    assert container(jpeg + b"trailing bytes") is None
    assert container(encode(gradient((40, 30)), "WEBP")) is None
    with pytest.raises(ImageRejected, match="damaged"):  # a broken PNG frame is definitive
        container(png[: len(png) // 2])
    with pytest.raises(ImageRejected) as caught:
        check_container(io.BytesIO(jpeg), max_bytes=len(jpeg) - 1, max_side=65535, min_side=1, max_aspect=1000)
    assert caught.value.code == "too_large_bytes"


@pytest.mark.parametrize("cut", [1, 3, 200, -1, -2])
def test_check_container_judges_a_jpeg_held_in_pieces_as_the_whole_file(cut: int) -> None:
    """A result is held in the pieces it was downloaded in (never joined): the header, or the
    end marker, may straddle two pieces."""
    jpeg = encode(noise((64, 48)), "JPEG")

    def container(data: bytes) -> ImageInfo | None:
        pieces = [data[:cut], data[cut:]]
        held = HeldImage(pieces, MemoryBudget(len(data)), 0)
        held.seek(5)  # wherever it stands, it is read from the start and left rewound
        info = check_container(held, max_bytes=64 * MB, max_side=65535, min_side=1, max_aspect=1000)
        assert held.tell() == 0
        return info

    assert container(jpeg) == ImageInfo("jpeg", 64, 48, len(jpeg))
    assert container(jpeg[:-1]) is None  # cut short: no end marker
    assert container(jpeg + b"\xff") is None


def test_container_check_does_not_inflate() -> None:
    # The documented limit of decode=False: well-framed PNG chunks around a broken deflate stream.
    broken = png_with_header(64, 64, idat=b"\x78\x9c" + b"\xff" * 200)
    assert result_check(broken).format == "png"
    with pytest.raises(ImageRejected):
        inspect_image(broken)


def test_one_by_twenty_thousand() -> None:
    err = rejected(encode(Image.new("L", (1, 20000)), "PNG"))
    assert err.code == "bad_dimensions"  # every rule it breaks, at once
    assert err.reason == (
        "is 1x20000 pixels; each side must be over 14 px and at most 6000 px "
        "and the aspect ratio within 1:16 to 16:1"
    )


def test_side_limits() -> None:
    assert rejected(encode(Image.new("RGB", (14, 14)), "PNG")).code == "too_small"
    assert inspect_image(encode(Image.new("RGB", (15, 15)), "PNG")).width == 15
    err = rejected(encode(Image.new("RGB", (6001, 10)), "PNG"))
    assert err.code == "bad_dimensions"
    assert "6000" in err.reason
    assert rejected(png_with_header(6001, 6001)).code == "too_large_pixels"
    err = rejected(png_with_header(7000, 500))
    assert (err.code, err.reason) == ("too_large_pixels", "is 7000x500 pixels, larger than 6000x6000")


def test_aspect_ratio() -> None:
    assert inspect_image(encode(Image.new("RGB", (16, 256)), "PNG")).height == 256
    err = rejected(encode(Image.new("RGB", (300, 17)), "PNG"))
    assert err.code == "bad_aspect"
    assert "1:16 to 16:1" in err.reason


def test_fifty_megabyte_blob_is_refused_on_size_alone() -> None:
    blob = b"\x89PNG\r\n\x1a\n" + bytes(50 * MB)
    started = time.perf_counter()
    err = rejected(blob)
    assert time.perf_counter() - started < 0.05
    assert (err.code, err.reason) == ("too_large_bytes", "is 50.1 MB; the limit is 10 MB")  # 50 MB + 8 bytes


@pytest.mark.parametrize(("w", "h"), [(100_000, 100_000), (20_000, 20_000), (10_000, 10_000)])
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_headers_are_refused_before_decoding(w: int, h: int) -> None:
    started = time.perf_counter()
    err = rejected(png_with_header(w, h))
    assert err.code == "too_large_pixels"
    assert time.perf_counter() - started < 0.1


# --------------------------------------------------------------------------- prepare_reference


def decode_rgb(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def test_accepted_format_is_returned_untouched() -> None:
    data = encode(gradient(), "WEBP")
    out, fmt = prepare_reference(data, SEEDREAM_4)
    assert out is data
    assert fmt == "webp"
    png = encode(gradient(), "PNG")
    assert prepare_reference(png, PNG_JPEG)[0] is png


def test_animated_gif_becomes_first_frame_png() -> None:
    data, first = animated_gif()
    out, fmt = prepare_reference(data, PNG_JPEG)
    assert fmt == "png"
    assert sniff_format(out) == "png"
    with Image.open(io.BytesIO(out)) as im:
        assert getattr(im, "n_frames", 1) == 1
        assert im.convert("RGB").tobytes() == first.tobytes()
    inspect_image(out)


@pytest.mark.parametrize(
    ("pil", "kw"),
    [("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"})],
)
def test_webp_bmp_tiff_become_lossless_png(pil: str, kw: dict) -> None:
    src = gradient((50, 40))
    out, fmt = prepare_reference(encode(src, pil, **kw), PNG_JPEG)
    assert fmt == "png"
    assert decode_rgb(out).tobytes() == src.tobytes()


def test_transparency_survives_conversion_to_png() -> None:
    src = gradient((30, 30), "RGBA")
    src.putpixel((0, 0), (1, 2, 3, 0))
    out, _ = prepare_reference(encode(src, "WEBP", lossless=True), PNG_JPEG)
    with Image.open(io.BytesIO(out)) as im:
        assert im.mode == "RGBA"
        assert im.getpixel((0, 0))[3] == 0


def test_jpeg_only_model_and_png_too_big_fall_back_to_jpeg() -> None:
    out, fmt = prepare_reference(encode(gradient(), "PNG"), ("jpeg",))
    assert (fmt, sniff_format(out)) == ("jpeg", "jpeg")
    big = encode(noise((300, 300)), "BMP")  # ~270 KB as PNG
    out, fmt = prepare_reference(big, PNG_JPEG, max_bytes=200_000)
    assert fmt == "jpeg"
    assert len(out) <= 200_000
    with pytest.raises(ImageRejected) as info:
        prepare_reference(big, ("png",), max_bytes=200_000)
    assert info.value.code == "too_large_bytes"


def test_nothing_accepted() -> None:
    with pytest.raises(ImageRejected) as info:
        prepare_reference(encode(gradient(), "BMP"), ())
    assert info.value.code == "unsupported_format"


def test_data_uri() -> None:
    data = encode(gradient(), "JPEG")
    uri = to_data_uri(data, "JPG")
    assert uri.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == data
    assert to_data_uri(b"x", "PNG") == "data:image/png;base64,eA=="


# --------------------------------------------------------------------------- fit_to_limit


@pytest.fixture(scope="module")
def noisy_2k_png() -> bytes:
    data = encode(noise((2048, 2048)), "PNG", compress_level=1)
    assert len(data) > 10 * MB
    return data


def test_fit_returns_input_when_it_fits() -> None:
    data = encode(gradient(), "PNG")
    out, ext = fit_to_limit(data, len(data))
    assert out is data
    assert ext == "png"


@pytest.mark.parametrize("limit", [8 * MB, 1 * MB])
def test_fit_noisy_2k_png(noisy_2k_png: bytes, limit: int) -> None:
    started = time.perf_counter()
    out, ext = fit_to_limit(noisy_2k_png, limit)
    elapsed = time.perf_counter() - started
    print(
        f"fit_to_limit 2048x2048 noise {len(noisy_2k_png) / MB:.1f} MB -> {len(out) / MB:.2f} MB "
        f"(limit {limit / MB:g} MB) in {elapsed:.2f} s"
    )
    assert ext == "jpeg"
    assert len(out) <= limit
    with Image.open(io.BytesIO(out)) as im:
        im.load()
        assert im.format == "JPEG"
        assert abs(im.width / im.height - 1) < 0.01
        assert im.width >= 512
    assert elapsed < 5


def test_fit_flattens_transparency_onto_white() -> None:
    src = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    src.paste(noise((200, 300)).convert("RGBA"), (0, 0))
    data = encode(src, "PNG")
    out, ext = fit_to_limit(data, len(data) - 1)
    assert ext == "jpeg"
    assert len(out) < len(data)
    with Image.open(io.BytesIO(out)) as im:
        assert im.size == (400, 300)
        assert all(c > 245 for c in im.getpixel((350, 150)))


def test_fit_aspect_kept_for_wide_image() -> None:
    data = encode(noise((1600, 400)), "PNG", compress_level=1)
    out, _ = fit_to_limit(data, 100_000)
    assert len(out) <= 100_000
    with Image.open(io.BytesIO(out)) as im:
        assert abs(im.width / im.height - 4) < 0.05


def test_fit_impossible_or_not_an_image() -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        fit_to_limit(encode(noise((300, 300)), "PNG"), 200)
    with pytest.raises(ValueError):
        fit_to_limit(b"plain text " * 100, 10)
    with pytest.raises(ValueError):
        fit_to_limit(encode(gradient(), "PNG"), 0)



def test_no_image_check_waits_for_pillow_to_load_its_plugins(tmp_path) -> None:
    """The first result of a burst is checked on the event loop: Pillow loading its format plugins
    then (~7 ms, ~23 ms for all of them at a WebP) would hold up every request behind it. In a fresh
    interpreter that has imported the bot's image checks, checking (and converting) one image of
    each format the bot reads imports no plugin."""
    import subprocess  # noqa: PLC0415 - only this test
    import sys  # noqa: PLC0415

    for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"):  # encoded here, not in the fresh interpreter
        Image.new("RGB", (64, 48), (200, 120, 40)).save(tmp_path / f"sample.{fmt.lower()}", fmt)
    script = f"""
import pathlib, sys
from pipeline import images
before = set(sys.modules)
for path in sorted(pathlib.Path({str(tmp_path)!r}).iterdir()):
    images.inspect_image(path.read_bytes())
    images.prepare_reference(path.read_bytes(), accepted_formats=("png", "jpeg"))
print(sorted(m for m in set(sys.modules) - before if m.startswith("PIL.") and m.endswith("ImagePlugin")))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
