"""Read one ledger row back as the request it was (for the buttons under a result).

The ledger keeps what was asked (prompt, model, size, how many images, which command) and by
whom and where; reference images and the seed are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.connection import Database

_GET_SQL = """
SELECT id, guild_id, channel_id, user_id, command, model, size, prompt, images_requested, status
FROM requests WHERE id = ?
"""


@dataclass(frozen=True)
class RequestRecord:
    id: int
    guild_id: int
    channel_id: int
    user_id: int
    command: str
    model: str
    size: str | None  # as sent to the gateway; None or "" = the model's default
    prompt: str
    count: int
    status: str  # pending | settled | released | refused


class RequestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, request_id: int) -> RequestRecord | None:
        """The request with this ledger id, or None when there is no such row."""
        row = await self._db.fetchone(_GET_SQL, (request_id,))
        if row is None:
            return None
        return RequestRecord(
            id=row["id"], guild_id=row["guild_id"], channel_id=row["channel_id"], user_id=row["user_id"],
            command=row["command"], model=row["model"], size=row["size"] or None, prompt=row["prompt"],
            count=row["images_requested"], status=row["status"],
        )  # fmt: skip
