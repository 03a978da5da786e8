"""Requests waiting for a moderator (approval mode), persisted so they survive a restart.

A request is `pending` until one moderator decides it; `decide` changes it only while it is
still pending, in one statement, so two moderators pressing at once cannot both approve.
`approved` requests whose generation is then refused (e.g. a quota) become `failed`; one refused
because the bot is restarting is `pending` again (`reopen`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.connection import Database
from storage.models import as_utc, epoch_ms

Status = Literal["pending", "approved", "rejected", "failed"]

_FIELDS = (
    "id, guild_id, channel_id, user_id, job, status, review_channel_id, review_message_id, "
    "decided_by, decided_at, created_at"
)


@dataclass(frozen=True)
class Approval:
    id: int
    guild_id: int
    channel_id: int  # where the member asked; results go there
    user_id: int
    job: dict[str, Any]  # the serialized request (prompt, model, size, count, references, locale, ...)
    status: Status
    review_channel_id: int | None
    review_message_id: int | None
    decided_by: int | None
    decided_at: int | None  # epoch milliseconds
    created_at: int


class ApprovalStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        job: dict[str, Any],
        now: datetime | None = None,
        unless_waiting: Callable[[Approval], bool] | None = None,
    ) -> int | None:
        """The new approval's id; None, and nothing stored, when one of the member's requests in
        this server still waiting matches `unless_waiting` (checked in the same transaction, so
        two requests asked at once cannot both pass it)."""
        async with self._db.transaction() as tx:
            if unless_waiting is not None:
                waiting = await tx.fetchall(
                    f"SELECT {_FIELDS} FROM approvals WHERE guild_id = ? AND status = 'pending' AND user_id = ?",  # noqa: S608 - constant columns
                    (guild_id, user_id),
                )
                if any(unless_waiting(_approval(found)) for found in waiting):
                    return None
            row = await tx.fetchone(
                "INSERT INTO approvals (guild_id, channel_id, user_id, job, created_at) VALUES (?, ?, ?, ?, ?) "
                "RETURNING id",
                (guild_id, channel_id, user_id, json.dumps(job, ensure_ascii=False), epoch_ms(as_utc(now))),
            )
        assert row is not None
        return int(row[0])

    async def set_review_message(self, approval_id: int, channel_id: int, message_id: int) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE approvals SET review_channel_id = ?, review_message_id = ? WHERE id = ?",
                (channel_id, message_id, approval_id),
            )

    async def get(self, approval_id: int) -> Approval | None:
        row = await self._db.fetchone(f"SELECT {_FIELDS} FROM approvals WHERE id = ?", (approval_id,))  # noqa: S608
        return None if row is None else _approval(row)

    async def decide(
        self, approval_id: int, status: Literal["approved", "rejected"], *, by: int, now: datetime | None = None,
        review_message_id: int | None = None,
    ) -> Approval | None:
        """Decide a pending request; None when it is unknown or was already decided, or when
        `review_message_id` (the message whose button was pressed) is not its review: a database
        started afresh numbers its requests from 1 again, and an old review's button must not
        decide a new request no moderator saw there."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                f"UPDATE approvals SET status = ?, decided_by = ?, decided_at = ? "  # noqa: S608
                "WHERE id = ? AND status = 'pending' "
                "AND (? IS NULL OR review_message_id IS NULL OR review_message_id = ?) "
                f"RETURNING {_FIELDS}",
                (status, by, epoch_ms(as_utc(now)), approval_id, review_message_id, review_message_id),
            )
        return None if row is None else _approval(row)

    async def latest_without_request(
        self, guild_id: int, *, user_id: int | None = None, limit: int = 10
    ) -> list[Approval]:
        """The newest requests of a server (or one member) that never got a ledger row, newest first:
        waiting for a moderator, rejected, or approved but refused before anything was reserved.
        One that did get a row (it ran, or a quota refused it) is linked to it by its audit entry
        (``request_id``) and shows with that row instead."""
        sql = (
            f"SELECT {_FIELDS} FROM approvals AS a WHERE a.guild_id = ? "  # noqa: S608 - constant columns
            "AND NOT EXISTS (SELECT 1 FROM audit_log AS l WHERE l.guild_id = a.guild_id "
            "AND l.target = 'approval:' || a.id AND l.request_id IS NOT NULL)"
        )
        params: list[object] = [guild_id]
        if user_id is not None:
            sql += " AND a.user_id = ?"
            params.append(user_id)
        params.append(limit)
        rows = await self._db.fetchall(sql + " ORDER BY a.id DESC LIMIT ?", params)
        return [_approval(row) for row in rows]

    async def reopen_unstarted(self) -> list[Approval]:
        """Approved requests that never started - the bot stopped between the decision and the
        reservation (no ledger row is linked to them) - wait for a moderator again. For the start,
        before any request runs; returns them."""
        # The approvals linked to a ledger row, read once as a set (a correlated NOT EXISTS would
        # read a guild's whole audit log for every approval ever approved, at every start).
        sql = (
            f"UPDATE approvals SET status = 'pending', decided_by = NULL, decided_at = NULL "  # noqa: S608 - constant columns
            "WHERE status = 'approved' AND 'approval:' || id NOT IN "
            "(SELECT target FROM audit_log WHERE request_id IS NOT NULL AND target LIKE 'approval:%') "
            f"RETURNING {_FIELDS}"
        )
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(sql)
        return [_approval(row) for row in rows]

    async def reopen(self, approval_id: int) -> None:
        """An approval that could not start because the bot is restarting waits again: a moderator
        approves it after the restart, so a shutdown loses no decision."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE approvals SET status = 'pending', decided_by = NULL, decided_at = NULL "
                "WHERE id = ? AND status = 'approved'",
                (approval_id,),
            )

    async def waiting(self) -> list[Approval]:
        """Every request waiting for a moderator, oldest first."""
        rows = await self._db.fetchall(f"SELECT {_FIELDS} FROM approvals WHERE status = 'pending' ORDER BY id")  # noqa: S608 - constant columns
        return [_approval(row) for row in rows]

    async def withdraw(self, approval_id: int) -> bool:
        """End a waiting request no moderator can decide (its review message is gone); False if a
        moderator decided it meanwhile. It shows as never decided, like one that was never posted."""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE approvals SET status = 'failed' WHERE id = ? AND status = 'pending'", (approval_id,)
            )
        return changed == 1

    async def mark_failed(self, approval_id: int) -> None:
        """An approved request that could not run (refused at reservation, channel gone)."""
        async with self._db.transaction() as tx:
            await tx.execute("UPDATE approvals SET status = 'failed' WHERE id = ?", (approval_id,))


def _approval(row: Any) -> Approval:
    values = dict(zip([f.strip() for f in _FIELDS.split(",")], row, strict=True))
    values["job"] = json.loads(values["job"])
    return Approval(**values)
