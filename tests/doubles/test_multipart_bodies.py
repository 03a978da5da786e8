"""The Discord double reads multipart bodies itself (fast byte splits): it must read exactly what
aiohttp's writer (which discord.py uses) sends, and refuse what is not multipart."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp import payload

from tests.doubles.discord_double.bodies import parse_multipart


class _Collect:
    def __init__(self) -> None:
        self.data = bytearray()

    async def write(self, chunk: bytes) -> None:
        self.data += chunk


async def encode(form: aiohttp.FormData) -> tuple[bytes, str]:
    body = form()
    sink = _Collect()
    await body.write(sink)  # type: ignore[arg-type]
    return bytes(sink.data), body.content_type if isinstance(body, payload.Payload) else ""


async def test_reads_payload_json_and_every_file_as_sent() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 50 + b"\r\n--tricky\r\n"  # boundary-like bytes inside
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps({"content": "done", "attachments": [{"id": 0}]}))
    form.add_field("files[0]", png, filename="seedream-1-1.png", content_type="image/png")
    form.add_field("files[1]", b"second", filename="poster-2.jpg", content_type="image/jpeg")
    raw, content_type = await encode(form)

    body = parse_multipart(raw, content_type)

    assert body.kind == "multipart"
    assert body.json == {"content": "done", "attachments": [{"id": 0}]}
    assert [(f.index, f.filename, f.content_type, f.data) for f in body.files] == [
        (0, "seedream-1-1.png", "image/png", png),
        (1, "poster-2.jpg", "image/jpeg", b"second"),
    ]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"--abc\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--abc--\r\n", "multipart/form-data"),
        (b"not multipart at all", "multipart/form-data; boundary=abc"),
        (b"--abc\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n", "multipart/form-data; boundary=abc"),
    ],
    ids=["no boundary", "no framing", "no closing delimiter"],
)
def test_refuses_what_is_not_well_framed(raw: bytes, content_type: str) -> None:
    assert parse_multipart(raw, content_type).kind == "invalid"


def test_bad_payload_json_is_invalid() -> None:
    raw = b'--b\r\nContent-Disposition: form-data; name="payload_json"\r\n\r\n{nope\r\n--b--\r\n'
    body = parse_multipart(raw, 'multipart/form-data; boundary="b"')
    assert body.kind == "invalid"
    assert "payload_json" in (body.problem or "")
