"""The audit log: who did what, when, with the old and the new value.

Any change an admin or a moderator makes goes here (quota and budget settings, moderation
settings, approval decisions), so the log is deliberately general: ``action`` is a dotted
name (``quota.set``, ``budget.set``, ``request.approved``), ``target`` says what was changed
(``member:123``, ``role:456``, ``guild``, ``request:789``) and ``old``/``new`` are short
locale-neutral texts (None when there was nothing before / is nothing after). An entry about
a ledger request also carries ``request_id`` so /history can show it next to the request.

Changes made by the storage layer itself write their entry in the same transaction as the
change (``write_entry``), so a change is never without its audit entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from storage.connection import Database, Transaction
from storage.models import epoch_ms, from_epoch_ms, utc_now

MAX_VALUE_CHARS = 1000

_INSERT_SQL = """
INSERT INTO audit_log (guild_id, actor_id, action, target, old_value, new_value, request_id, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
_COLUMNS = "id, guild_id, actor_id, action, target, old_value, new_value, request_id, created_at"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    guild_id: int
    actor_id: int
    action: str
    target: str
    old: str | None
    new: str | None
    request_id: int | None
    created_at: datetime


def _clip(value: object | None) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def write_entry(
    conn: sqlite3.Connection,
    guild_id: int,
    actor_id: int,
    action: str,
    target: str,
    old: object | None,
    new: object | None,
    *,
    request_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Add an entry inside the caller's transaction (for ``Database.run`` functions)."""
    created = epoch_ms(now or utc_now())
    conn.execute(
        _INSERT_SQL, (guild_id, actor_id, action, target, _clip(old), _clip(new), request_id, created)
    )


async def add_entry(
    tx: Transaction, guild_id: int, actor_id: int, action: str, target: str, old: object | None, new: object | None
) -> None:
    """`write_entry` inside a ``Database.transaction()`` (for changes decided on the event loop)."""
    await tx.execute(_INSERT_SQL, (guild_id, actor_id, action, target, _clip(old), _clip(new), None,
                                   epoch_ms(utc_now())))


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        guild_id=row["guild_id"],
        actor_id=row["actor_id"],
        action=row["action"],
        target=row["target"],
        old=row["old_value"],
        new=row["new_value"],
        request_id=row["request_id"],
        created_at=from_epoch_ms(row["created_at"]),
    )


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        guild_id: int,
        actor_id: int,
        action: str,
        target: str,
        old: object | None,
        new: object | None,
        *,
        request_id: int | None = None,
    ) -> None:
        """Write one entry in its own transaction. ``old``/``new`` are stored as text."""
        await self._db.run(
            lambda conn: write_entry(conn, guild_id, actor_id, action, target, old, new, request_id=request_id)
        )

    async def recent(
        self, guild_id: int, *, limit: int = 10, action_prefix: str | None = None
    ) -> list[AuditEntry]:
        """The newest entries of a server first, optionally only actions starting with ``action_prefix``."""
        sql = f"SELECT {_COLUMNS} FROM audit_log WHERE guild_id = ?"  # noqa: S608 - constant columns
        params: list[object] = [guild_id]
        if action_prefix:
            sql += " AND substr(action, 1, ?) = ?"
            params += [len(action_prefix), action_prefix]
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [_entry(row) for row in await self._db.fetchall(sql, params)]

    async def for_requests(self, request_ids: Iterable[int]) -> dict[int, list[AuditEntry]]:
        """Entries about these ledger requests, oldest first, grouped by request id."""
        ids = sorted(set(request_ids))
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM audit_log WHERE request_id IN ({marks}) ORDER BY id",  # noqa: S608
            ids,
        )
        grouped: dict[int, list[AuditEntry]] = {}
        for row in rows:
            entry = _entry(row)
            grouped.setdefault(entry.request_id or 0, []).append(entry)
        return grouped
