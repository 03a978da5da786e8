"""Read a request body the way Discord does: JSON, or multipart with payload_json and files[n]."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

_FILE_FIELD = re.compile(r"^files\[(\d+)\]$|^file(\d*)$")
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


@dataclass
class UploadedFile:
    index: int
    filename: str
    content_type: str
    data: bytes


@dataclass
class Body:
    kind: str  # "none" | "json" | "multipart" | "invalid"
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    problem: str | None = None


async def read_body(request: web.Request) -> Body:
    if not request.body_exists:
        return Body("none")
    # The header by hand: aiohttp's ``content_type`` runs the email package's parser, which
    # costs this double more than the JSON it then reads.
    ctype = request.headers.get("Content-Type", "")
    # Chunks joined once: ``request.read()`` grows a bytearray and copies it again (slow for
    # the 10 MB PNG uploads the benchmark sends, and this double shares the bot's two cores).
    raw = b"".join([chunk async for chunk in request.content.iter_any()])
    if ctype.split(";", 1)[0].strip().lower() == "multipart/form-data":
        return parse_multipart(raw, ctype)
    if not raw:
        return Body("none")
    try:
        return Body("json", json=json.loads(raw))
    except ValueError as exc:
        return Body("invalid", problem=f"body is not JSON ({exc})")


def parse_multipart(raw: bytes, content_type: str) -> Body:
    """A multipart/form-data body (RFC 7578) read whole, split at its boundary.

    Byte searches over the whole body instead of aiohttp's streaming reader, which looks for
    the boundary a few KiB at a time in Python (~10 ms for a 1.5 MB upload; this is < 1 ms).
    """
    found = _BOUNDARY.search(content_type)
    if found is None:
        return Body("invalid", problem="multipart body without a boundary")
    delimiter = b"--" + (found.group(1) or found.group(2)).encode("latin-1")
    separator = b"\r\n" + delimiter
    if not raw.startswith(delimiter):
        return Body("invalid", problem="multipart body is not framed by its boundary")
    # Offsets only: each part's bytes are copied once, when sliced out of the body.
    spans, start = [], len(delimiter)
    while (end := raw.find(separator, start)) != -1:
        spans.append((start, end))
        start = end + len(separator)
    if not spans or raw[start : start + 2] != b"--":
        return Body("invalid", problem="multipart body is not framed by its boundary")
    body = Body("multipart")
    for start, end in spans:
        split = raw.find(b"\r\n\r\n", start, end)
        if split == -1 or raw[start : start + 2] != b"\r\n":
            return Body("invalid", problem="a multipart part has no header block")
        head, data = raw[start + 2 : split], raw[split + 4 : end]
        headers = _part_headers(head)
        disposition = headers.get("content-disposition", "")
        _kind, params = parse_content_disposition(disposition)
        name = params.get("name", "")
        if name == "payload_json":
            try:
                body.json = json.loads(data)
            except ValueError as exc:
                body.kind, body.problem = "invalid", f"payload_json is not JSON ({exc})"
            continue
        match = _FILE_FIELD.match(name)
        if match is None:
            continue
        index = int(match.group(1) or match.group(2) or 0)
        filename = content_disposition_filename(params, "filename") or f"file{index}"
        content_type = headers.get("content-type", "application/octet-stream")
        body.files.append(UploadedFile(index, filename, content_type, data))
    return body


def _part_headers(block: bytes) -> dict[str, str]:
    headers = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers
