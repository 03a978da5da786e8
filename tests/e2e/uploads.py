"""Helpers shared by the upload-limit tests (no tests here)."""

from __future__ import annotations

import asyncio
import os

from tests.doubles.discord_double.messages import MAX_REQUEST_FILES

MiB = 1024 * 1024
PNG_2K = {"realistic": True, "image_format": "png", "image_size": (2048, 2048)}  # ~8.9 MiB each
PNG_4K = {"realistic": True, "image_format": "png", "image_size": (4096, 4096)}  # ~35.5 MiB each
JPEG_1K = {"realistic": True, "image_format": "jpeg", "image_size": (1024, 1024)}  # ~0.4 MB, held in memory
UNKNOWN_INTERACTION = {"code": 10062, "message": "Unknown interaction"}
TOO_LARGE = {"code": 40005, "message": "Request entity too large"}
__all__ = ["MAX_REQUEST_FILES"]


def boost(w, tier: int, *, reported: int | None = None) -> None:
    """Before the bot starts: the guild as Discord describes a boosted one (its premium tier in the
    guild object) and the upload limit Discord reports and enforces (`attachment_size_limit`,
    by default the one that tier gives)."""
    w.guild.attachment_size_limit = reported or {0: 10 * MiB, 1: 10 * MiB, 2: 50 * MiB, 3: 100 * MiB}[tier]
    original = w.guild.base_payload

    def payload():
        data = original()
        data["premium_tier"] = tier
        data["premium_subscription_count"] = {0: 0, 1: 2, 2: 7, 3: 14}[tier]
        return data

    w.guild.base_payload = payload


async def all_settled(w, timeout: float = 120.0, *, rows: int = 1) -> list[dict]:
    """The ledger rows once there are `rows` of them and none is pending (then a moment more:
    the books close before the last edit)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if len(got := await w.ledger_rows()) >= rows and all(r["status"] != "pending" for r in got):
            await asyncio.sleep(0.5)
            return await w.ledger_rows()
        await asyncio.sleep(0.05)
    raise TimeoutError("a request was never settled")


def uploads(w) -> list[tuple[str, int, list[int]]]:
    """(path, status, file sizes) of every request to Discord that carried files."""
    return [(r.path, r.status, [size for _name, size in r.files]) for r in w.discord.requests if r.files]


def open_temp_files() -> list[str]:
    """This process's open unnamed temporary files (tempfile.TemporaryFile on Linux)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith("(deleted)") or target.startswith("/tmp/#"):
            out.append(target)
    return out
