from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from storage import Limits, RequestRecord, Storage, open_storage
from storage.ledger import Ledger

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
PRICE = 135_000  # micro-dollars per image
NO_LIMITS = Limits(None, None, None)


@pytest.fixture
async def storage() -> AsyncIterator[Storage]:
    async with open_storage("sqlite:///:memory:") as opened:
        yield opened


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'bot.db'}"


def record(**overrides: Any) -> RequestRecord:
    """A request with defaults for everything a test does not care about."""
    fields: dict[str, Any] = {
        "guild_id": 1,
        "channel_id": 10,
        "user_id": 100,
        "command": "imagine",
        "model": "seedream-4-5",
        "size": "2K",
        "prompt": "a lighthouse at dusk",
        "images": 1,
        "unit_price_micros": PRICE,
    }
    return RequestRecord(**{**fields, **overrides})


async def reserve(ledger: Ledger, *, limits: Limits = NO_LIMITS, now: datetime = NOW, **overrides: Any) -> int:
    """reserve() with defaults for everything a test does not care about."""
    return await ledger.reserve(record(**overrides), limits=limits, now=now)


async def counters_match_rows(storage: Storage) -> None:
    """The trigger-maintained counters equal the sums over the ledger rows."""
    member = await storage.db.fetchall(
        """
        SELECT guild_id, user_id, created_at / 86400000 AS day,
               SUM(CASE status WHEN 'pending' THEN images_requested
                               WHEN 'settled' THEN images_delivered ELSE 0 END),
               SUM(CASE status WHEN 'pending' THEN reserved_micros
                               WHEN 'settled' THEN charged_micros ELSE 0 END)
        FROM requests GROUP BY 1, 2, 3
        """
    )
    guild = await storage.db.fetchall(
        """
        SELECT guild_id, created_at / 86400000 AS day,
               SUM(CASE status WHEN 'pending' THEN reserved_micros
                               WHEN 'settled' THEN cost_micros ELSE 0 END)
        FROM requests GROUP BY 1, 2
        """
    )
    counted_member = await storage.db.fetchall(
        "SELECT guild_id, user_id, day, images, member_micros FROM usage_member_day"
    )
    counted_guild = await storage.db.fetchall("SELECT guild_id, day, guild_micros FROM usage_guild_day")

    def nonzero(rows: list[Any], key_len: int) -> dict[tuple[int, ...], tuple[int, ...]]:
        out = {tuple(r[:key_len]): tuple(r[key_len:]) for r in rows}
        return {k: v for k, v in out.items() if any(v)}

    assert nonzero(counted_member, 3) == nonzero(member, 3)
    assert nonzero(counted_guild, 2) == nonzero(guild, 2)
