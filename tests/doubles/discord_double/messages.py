"""Messages as Discord builds them from a request: limits, attachments, embeds, components, edits."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import responses
from .bodies import UploadedFile
from .cdn import AttachmentStore, StoredAttachment
from .ids import SnowflakeFactory, iso_now
from .model import User

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_FILES = 10
MAX_REQUEST_FILES = 25 * 1024 * 1024  # "The maximum request size when sending a message is 25 MiB"
MAX_EMBED_TOTAL = 6000
EPHEMERAL = 1 << 6
LOADING = 1 << 7
_REQUEST_FLAGS = (1 << 2) | EPHEMERAL | (1 << 12) | (1 << 15)
_USER_MENTION = re.compile(r"<@!?([0-9]+)>")


@dataclass
class MessageRecord:
    payload: dict[str, Any]
    channel_id: int
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier versions, oldest first

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def ephemeral(self) -> bool:
        return bool(self.payload.get("flags", 0) & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.payload.get("flags", 0) & LOADING)


def _text_len(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0  # malformed values are the spec validator's business


def _embed_chars(embed: dict[str, Any]) -> int:
    total = _text_len(embed.get("title")) + _text_len(embed.get("description"))
    for sub, key in (("footer", "text"), ("author", "name")):
        part = embed.get(sub)
        total += _text_len(part.get(key)) if isinstance(part, dict) else 0
    fields = embed.get("fields")
    for f in fields if isinstance(fields, list) else []:
        if isinstance(f, dict):
            total += _text_len(f.get("name")) + _text_len(f.get("value"))
    return total


def check_limits(
    message: dict[str, Any] | None, files: list[UploadedFile], size_limit: int
) -> web.Response | None:
    """Discord's hard message limits, checked before (and reported apart from) spec validation."""
    # Each file within the upload limit, and several together within the request size.
    if any(len(f.data) > size_limit for f in files) or (
        len(files) > 1 and sum(len(f.data) for f in files) > MAX_REQUEST_FILES
    ):
        return responses.error(413, 40005, "Request entity too large")
    if len(files) > MAX_FILES:
        return responses.invalid_form_body(
            responses.field_errors(
                ["files"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length."
            )
        )
    message = message or {}
    content = message.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        return responses.invalid_form_body(
            responses.field_errors(
                ["content"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
            )
        )
    embeds = message.get("embeds") or []
    if isinstance(embeds, list):
        if len(embeds) > MAX_EMBEDS:
            return responses.invalid_form_body(
                responses.field_errors(
                    ["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."
                )
            )
        if sum(_embed_chars(e) for e in embeds if isinstance(e, dict)) > MAX_EMBED_TOTAL:
            return responses.invalid_form_body(
                responses.field_errors(
                    ["embeds"],
                    "MAX_EMBED_SIZE_EXCEEDED",
                    f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}",
                )
            )
    attachments = message.get("attachments") or []
    if isinstance(attachments, list) and len(attachments) > MAX_FILES:
        return responses.invalid_form_body(
            responses.field_errors(
                ["attachments"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length."
            )
        )
    return None


def is_empty(message: dict[str, Any], files: list[UploadedFile]) -> bool:
    keys = ("content", "embeds", "components", "sticker_ids", "poll", "attachments")
    return not files and not any(message.get(k) for k in keys)


def _with_component_ids(components: list[dict[str, Any]], counter: list[int]) -> list[dict[str, Any]]:
    out = []
    for original in components:
        comp = dict(original)
        counter[0] += 1
        comp.setdefault("id", counter[0])
        if isinstance(comp.get("components"), list):
            comp["components"] = _with_component_ids(comp["components"], counter)
        if isinstance(comp.get("component"), dict):
            comp["component"] = _with_component_ids([comp["component"]], counter)[0]
        if isinstance(comp.get("accessory"), dict):
            comp["accessory"] = _with_component_ids([comp["accessory"]], counter)[0]
        out.append(comp)
    return out


class MessageFactory:
    def __init__(self, snowflakes: SnowflakeFactory, store: AttachmentStore) -> None:
        self._snowflakes = snowflakes
        self._store = store

    def _attachments(
        self,
        channel_id: int,
        message: dict[str, Any],
        files: list[UploadedFile],
        existing: list[dict[str, Any]],
        *,
        editing: bool,
    ) -> list[dict[str, Any]]:
        by_index = {f.index: f for f in files}
        requested = message.get("attachments")
        used: set[int] = set()
        result: list[dict[str, Any]] = []
        if requested is None:
            result = list(existing) if editing else []
        else:
            existing_by_id = {a["id"]: a for a in existing}
            for entry in requested:
                key = entry.get("id")
                if str(key) in existing_by_id:
                    result.append(existing_by_id[str(key)])
                elif key is not None and int(key) in by_index:
                    f = by_index[int(key)]
                    used.add(f.index)
                    result.append(self._store_file(channel_id, f, entry))
        for f in sorted(files, key=lambda f: f.index):
            if f.index not in used:
                result.append(self._store_file(channel_id, f, {}))
        return result

    def _store_file(self, channel_id: int, f: UploadedFile, entry: dict[str, Any]) -> dict[str, Any]:
        att: StoredAttachment = self._store.add(
            channel_id,
            entry.get("filename") or f.filename,
            f.data,
            f.content_type,
            description=entry.get("description"),
        )
        return self._store.to_payload(att)

    @staticmethod
    def _embeds(embeds: Iterable[dict[str, Any]], attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_name = {a["filename"]: a for a in attachments}
        out = []
        for source in embeds:
            embed = copy.deepcopy(source)
            embed.setdefault("type", "rich")
            embed.setdefault("content_scan_version", 0)
            for key in ("image", "thumbnail"):
                media = embed.get(key)
                if isinstance(media, dict) and str(media.get("url", "")).startswith("attachment://"):
                    att = by_name.get(media["url"][len("attachment://") :])
                    if att is not None:
                        media.update(url=att["url"], proxy_url=att["proxy_url"])
                        if "width" in att:
                            media.update(width=att["width"], height=att["height"])
            out.append(embed)
        return out

    def create(
        self,
        *,
        channel_id: int,
        author: User,
        message: dict[str, Any],
        files: list[UploadedFile],
        msg_type: int = 0,
        flags: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> MessageRecord:
        attachments = self._attachments(channel_id, message, files, [], editing=False)
        msg_flags = flags if flags is not None else (message.get("flags") or 0) & _REQUEST_FLAGS
        payload: dict[str, Any] = {
            "type": msg_type,
            "content": message.get("content") or "",
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": self._embeds(message.get("embeds") or [], attachments),
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "flags": msg_flags,
            "components": _with_component_ids(message.get("components") or [], [0]),
            "id": str(self._snowflakes.next()),
            "channel_id": str(channel_id),
            "author": author.to_payload(),
            "pinned": False,
            "mention_everyone": False,
            "tts": bool(message.get("tts")),
        }
        if message.get("poll"):
            payload["poll"] = message["poll"]
        payload.update(extra or {})
        return MessageRecord(payload=payload, channel_id=channel_id)

    def edit(
        self,
        record: MessageRecord,
        message: dict[str, Any],
        files: list[UploadedFile],
        *,
        finish_loading: bool = True,
    ) -> None:
        old = record.payload
        record.history.append(copy.deepcopy(old))
        new = copy.deepcopy(old)
        was_loading = bool(old.get("flags", 0) & LOADING)
        new["attachments"] = self._attachments(
            record.channel_id, message, files, old["attachments"], editing=True
        )
        if "content" in message:
            new["content"] = message["content"] or ""
        if "embeds" in message:
            new["embeds"] = self._embeds(message["embeds"] or [], new["attachments"])
        if "components" in message:
            new["components"] = _with_component_ids(message["components"] or [], [0])
        if message.get("flags") is not None:
            keep = old.get("flags", 0) & ~_REQUEST_FLAGS
            new["flags"] = (
                keep | (int(message["flags"]) & (1 << 2 | 1 << 15)) | (old.get("flags", 0) & EPHEMERAL)
            )
        if finish_loading and was_loading:
            new["flags"] = new.get("flags", 0) & ~LOADING
        else:
            new["edited_timestamp"] = iso_now()
        if message.get("poll"):
            new["poll"] = message["poll"]
        record.payload = new


def pinged_user_ids(message: dict[str, Any]) -> list[int]:
    """The users a new message notifies: those its content mentions (<@id>) that its
    `allowed_mentions` lets through (without it, Discord parses every mention)."""
    content = message.get("content")
    named = [int(m) for m in _USER_MENTION.findall(content)] if isinstance(content, str) else []
    allowed = message.get("allowed_mentions")
    if isinstance(allowed, dict):
        users = {int(u) for u in allowed.get("users") or []}
        named = [u for u in named if "users" in (allowed.get("parse") or []) or u in users]
    return list(dict.fromkeys(named))


def message_text(payload: dict[str, Any]) -> list[str]:
    """Human-visible text of one message: content, embeds, text displays."""
    parts: list[str] = []
    if payload.get("content"):
        parts.append(payload["content"])
    for embed in payload.get("embeds") or []:
        for key in ("title", "description"):
            if embed.get(key):
                parts.append(embed[key])
        for sub, key in (("author", "name"), ("footer", "text")):
            if (embed.get(sub) or {}).get(key):
                parts.append(embed[sub][key])
        for f in embed.get("fields") or []:
            parts.extend(x for x in (f.get("name"), f.get("value")) if x)

    def walk(components: list[dict[str, Any]]) -> None:
        for comp in components:
            if comp.get("type") == 10 and comp.get("content"):
                parts.append(comp["content"])
            walk(comp.get("components") or [])
            if isinstance(comp.get("component"), dict):
                walk([comp["component"]])

    walk(payload.get("components") or [])
    return parts


def strings_in(value: Any) -> Iterable[str]:
    """Every string leaf of a JSON value (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)
