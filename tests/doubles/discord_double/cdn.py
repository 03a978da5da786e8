"""Attachment bytes and their CDN URLs, served back over loopback."""

from __future__ import annotations

import io
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .ids import SnowflakeFactory


@dataclass
class StoredAttachment:
    id: int
    channel_id: int
    filename: str
    content_type: str
    data: bytes
    description: str | None = None
    ephemeral: bool = False
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)


def _probe(data: bytes) -> tuple[str, tuple[int, int]] | None:
    """(media type, (width, height)) of an image, from its header; None for anything else."""
    try:
        from PIL import Image  # noqa: PLC0415 - optional: only images get width/height
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            return Image.MIME.get(img.format or "", "application/octet-stream"), img.size
    except Exception:
        return None


class AttachmentStore:
    def __init__(self, snowflakes: SnowflakeFactory) -> None:
        self._snowflakes = snowflakes
        self._by_id: dict[int, StoredAttachment] = {}
        self.base_url = ""
        self.fetches = 0  # attachments served (what the bot downloaded)

    def add(
        self, channel_id: int, filename: str, data: bytes, content_type: str | None, **extra: Any
    ) -> StoredAttachment:
        ctype = content_type or "application/octet-stream"
        # Discord reads an upload itself: an image sent as application/octet-stream (discord.py
        # sends every file so) is listed with its media type, width and height.
        probed = _probe(data) if ctype.startswith("image/") or ctype == "application/octet-stream" else None
        if probed is not None and ctype == "application/octet-stream":
            ctype = probed[0]
        att = StoredAttachment(self._snowflakes.next(), channel_id, filename, ctype, bytes(data), **extra)
        if probed is not None:
            att.width, att.height = probed[1]
        self._by_id[att.id] = att
        return att

    def remove(self, attachment_id: int) -> None:
        self._by_id.pop(attachment_id, None)

    def get(self, attachment_id: int) -> StoredAttachment | None:
        return self._by_id.get(attachment_id)

    def url(self, att: StoredAttachment) -> str:
        now = int(time.time())
        query = f"ex={now + 86400:x}&is={now:x}&hm={secrets.token_hex(32)}&"
        return f"{self.base_url}/attachments/{att.channel_id}/{att.id}/{quote(att.filename)}?{query}"

    def to_payload(self, att: StoredAttachment) -> dict[str, Any]:
        url = self.url(att)
        data: dict[str, Any] = {
            "id": str(att.id),
            "filename": att.filename,
            "size": att.size,
            "url": url,
            "proxy_url": url.replace("/attachments/", "/media-proxy/attachments/", 1),
            "content_type": att.content_type,
        }
        if att.description is not None:
            data["description"] = att.description
        if att.width is not None:
            data["width"], data["height"] = att.width, att.height
        if att.ephemeral:
            data["ephemeral"] = True
        return data

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            att = self._by_id.get(int(request.match_info["attachment_id"]))
        except ValueError:
            att = None
        if att is None or str(att.channel_id) != request.match_info["channel_id"]:
            return web.Response(status=404, text="Not Found")
        self.fetches += 1
        return web.Response(body=att.data, content_type=att.content_type.split(";")[0])
