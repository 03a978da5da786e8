"""Ledger rows read back as they were written: one row type for every reader.

The buttons under a result re-run a request from its row; /spend and /history list rows of a
period (storage.reports). The ledger keeps what was asked (prompt, model, size, how many
images, which command, how many reference images), by whom and where, and what it cost; the
reference images themselves and the seed are not kept.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.connection import Database
from storage.models import from_epoch_ms

COLUMNS = (
    "id, guild_id, channel_id, user_id, command, model, size, prompt, images_requested, images_billed,"
    " images_delivered, unit_price_micros, reserved_micros, cost_micros, charged_micros, status, error_code,"
    " created_at, settled_at, reference_images, locale"
)


@dataclass(frozen=True)
class LedgerRow:
    id: int
    guild_id: int
    channel_id: int
    user_id: int
    command: str
    model: str
    size: str | None  # as sent to the gateway; None or "" = the model's default
    prompt: str  # the member's own words
    images_requested: int
    images_billed: int | None
    images_delivered: int | None
    unit_price_micros: int
    reserved_micros: int
    cost_micros: int  # server spend (price x billed)
    charged_micros: int  # member charge (price x delivered)
    status: str  # pending | settled | released | refused
    error_code: str | None
    created_at: datetime
    settled_at: datetime | None
    reference_images: int = 0  # the images it was made from (not kept: it cannot be made again)
    locale: str | None = None  # the member's Discord locale when they asked (None: not recorded)


def ledger_row(row: sqlite3.Row) -> LedgerRow:
    values = dict(row)
    values["created_at"] = from_epoch_ms(values["created_at"])
    if values["settled_at"] is not None:
        values["settled_at"] = from_epoch_ms(values["settled_at"])
    return LedgerRow(**values)


class RequestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def untold(self) -> list[int]:
        """The requests a stop cut short whose members were not told yet (`Ledger.recover_pending`)."""
        return [row[0] for row in await self._db.fetchall("SELECT request_id FROM untold ORDER BY request_id")]

    async def told(self, request_id: int) -> None:
        """The member of a request a stop cut short was told (or never can be): off the list."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM untold WHERE request_id = ?", (request_id,))

    async def get(self, request_id: int) -> LedgerRow | None:
        """The request with this ledger id, or None when there is no such row."""
        row = await self._db.fetchone(f"SELECT {COLUMNS} FROM requests WHERE id = ?", (request_id,))  # noqa: S608
        return None if row is None else ledger_row(row)
