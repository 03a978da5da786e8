"""The ledger: every request is a row; money is reserved before the call and settled after.

``SqliteLedger`` implements the ``Ledger`` protocol of docs/ARCHITECTURE.md. Each write is
one ``BEGIN IMMEDIATE`` transaction on the shared connection with as few statements as
possible (each aiosqlite call is a thread hop): the quota check reads the three trigger-
maintained counters in one SELECT, then one INSERT ... RETURNING; a settle is one
UPDATE ... RETURNING.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from storage.connection import Database
from storage.errors import QuotaExceeded, QuotaKind, RequestNotFound
from storage.models import (
    Limits,
    Settlement,
    UsageSnapshot,
    as_utc,
    day_key,
    epoch_ms,
    month_key,
    next_utc_midnight,
    next_utc_month,
    utc_now,
)

INTERRUPTED = "interrupted"
_UNLIMITED = Limits(None, None, None)


class Ledger(Protocol):
    async def reserve(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        command: str,
        model: str,
        size: str | None,
        prompt: str,
        images: int,
        unit_price_micros: int,
        limits: Limits,
        now: datetime | None = None,
    ) -> int: ...

    async def record_billed(self, request_id: int, billed: int) -> None: ...

    async def record_delivered(self, request_id: int, delivered: int) -> None: ...

    async def settle(
        self, request_id: int, *, billed: int, delivered: int, error_code: str | None = None
    ) -> Settlement: ...

    async def release(self, request_id: int, *, error_code: str) -> None: ...

    async def recover_pending(self) -> int: ...

    async def usage(self, guild_id: int, user_id: int, now: datetime | None = None) -> UsageSnapshot: ...


_COUNTERS_SQL = """
SELECT
  COALESCE((SELECT images FROM usage_member_day
            WHERE guild_id = :guild_id AND user_id = :user_id AND day = :day), 0),
  COALESCE((SELECT micros FROM usage_member_month
            WHERE guild_id = :guild_id AND user_id = :user_id AND month = :month), 0),
  COALESCE((SELECT micros FROM usage_guild_month
            WHERE guild_id = :guild_id AND month = :month), 0)
"""

_USAGE_SQL = f"""
SELECT c.*, p.images, p.micros FROM ({_COUNTERS_SQL}) AS c,
  (SELECT COALESCE(SUM(images_requested), 0) AS images, COALESCE(SUM(reserved_micros), 0) AS micros
   FROM requests WHERE guild_id = :guild_id AND user_id = :user_id AND status = 'pending') AS p
"""  # noqa: S608 - constant SQL, no user input is formatted in

_INSERT_SQL = """
INSERT INTO requests (guild_id, channel_id, user_id, command, model, size, prompt,
                      images_requested, unit_price_micros, reserved_micros, status,
                      error_code, created_at)
VALUES (:guild_id, :channel_id, :user_id, :command, :model, :size, :prompt,
        :images, :unit_price_micros, :reserved_micros, :status, :error_code, :created_at)
RETURNING id
"""

_SETTLE_SQL = """
UPDATE requests
SET status = 'settled', images_billed = :billed, images_delivered = :delivered,
    cost_micros = unit_price_micros * :billed,
    charged_micros = unit_price_micros * MIN(:delivered, :billed),
    error_code = :error_code, settled_at = :now
WHERE id = :id AND status = 'pending'
RETURNING cost_micros, charged_micros, reserved_micros
"""

_EXISTING_SQL = "SELECT status, cost_micros, charged_micros, reserved_micros FROM requests WHERE id = ?"

_RELEASE_SQL = """
UPDATE requests
SET status = 'released', cost_micros = 0, charged_micros = 0, error_code = :error_code,
    settled_at = :now
WHERE id = :id AND status = 'pending'
"""

# Billed unknown but some images delivered: at least those were billed. Nothing known:
# released. Either way the row is marked 'interrupted' unless it already had a code.
_RECOVER_SQL = """
UPDATE requests
SET status = CASE WHEN COALESCE(images_billed, images_delivered) IS NULL
                  THEN 'released' ELSE 'settled' END,
    images_billed = COALESCE(images_billed, images_delivered),
    images_delivered = CASE WHEN COALESCE(images_billed, images_delivered) IS NULL
                            THEN images_delivered ELSE COALESCE(images_delivered, 0) END,
    cost_micros = unit_price_micros * COALESCE(images_billed, images_delivered, 0),
    charged_micros = unit_price_micros
                     * MIN(COALESCE(images_delivered, 0), COALESCE(images_billed, images_delivered, 0)),
    error_code = COALESCE(error_code, :error_code),
    settled_at = :now
WHERE status = 'pending'
"""


def _settlement(status: str, cost: int, charged: int, reserved: int) -> Settlement:
    if status == "settled":
        return Settlement(cost, charged, max(0, reserved - charged))
    if status == "released":
        return Settlement(0, 0, reserved)
    return Settlement(0, 0, 0)  # refused: nothing was reserved


def _non_negative(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


class SqliteLedger:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock

    def _now_ms(self) -> int:
        return epoch_ms(as_utc(self._clock()))

    async def reserve(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        command: str,
        model: str,
        size: str | None,
        prompt: str,
        images: int,
        unit_price_micros: int,
        limits: Limits,
        now: datetime | None = None,
    ) -> int:
        """Reserve ``images x unit_price_micros`` or record a refusal and raise QuotaExceeded."""
        if images < 1:
            raise ValueError(f"images must be >= 1, got {images}")
        _non_negative("unit_price_micros", unit_price_micros)
        moment = as_utc(now if now is not None else self._clock())
        created_ms = epoch_ms(moment)
        amount = images * unit_price_micros
        params: dict[str, object] = {
            "guild_id": guild_id, "channel_id": channel_id, "user_id": user_id,
            "command": command, "model": model, "size": size, "prompt": prompt,
            "images": images, "unit_price_micros": unit_price_micros, "created_at": created_ms,
            "day": day_key(created_ms), "month": month_key(moment),
        }  # fmt: skip
        refusal: QuotaExceeded | None = None
        async with self._db.transaction() as tx:
            if limits != _UNLIMITED:  # unlimited: skip the read
                row = await tx.fetchone(_COUNTERS_SQL, params)
                assert row is not None
                refusal = _check_limits(
                    limits, moment, images=images, amount=amount,
                    images_today=row[0], member_month=row[1], guild_month=row[2],
                )  # fmt: skip
            if refusal is None:
                params.update(reserved_micros=amount, status="pending", error_code=None)
            else:
                params.update(reserved_micros=0, status="refused", error_code=refusal.kind)
            inserted = await tx.fetchone(_INSERT_SQL, params)
            assert inserted is not None
            request_id = int(inserted[0])
        if refusal is not None:
            refusal.request_id = request_id
            raise refusal
        return request_id

    async def record_billed(self, request_id: int, billed: int) -> None:
        """Checkpoint: the gateway billed ``billed`` images (so a crash can still be settled)."""
        _non_negative("billed", billed)
        await self._checkpoint("images_billed", request_id, billed)

    async def record_delivered(self, request_id: int, delivered: int) -> None:
        """Checkpoint: ``delivered`` images (cumulative) have been posted so far."""
        _non_negative("delivered", delivered)
        await self._checkpoint("images_delivered", request_id, delivered)

    async def _checkpoint(self, column: str, request_id: int, value: int) -> None:
        sql = f"UPDATE requests SET {column} = ? WHERE id = ? AND status = 'pending'"  # noqa: S608
        async with self._db.transaction() as tx:
            # Not pending any more: a late checkpoint is harmless - but the row must exist.
            if (
                await tx.execute(sql, (value, request_id)) == 0
                and await tx.fetchone("SELECT 1 FROM requests WHERE id = ?", (request_id,)) is None
            ):
                raise RequestNotFound(request_id)

    async def settle(
        self, request_id: int, *, billed: int, delivered: int, error_code: str | None = None
    ) -> Settlement:
        """Settle a pending row; on a row already settled/released, return what it was."""
        _non_negative("billed", billed)
        _non_negative("delivered", delivered)
        params = {
            "id": request_id, "billed": billed, "delivered": delivered,
            "error_code": error_code, "now": self._now_ms(),
        }  # fmt: skip
        async with self._db.transaction() as tx:
            row = await tx.fetchone(_SETTLE_SQL, params)
            if row is not None:
                return _settlement("settled", row[0], row[1], row[2])
            existing = await tx.fetchone(_EXISTING_SQL, (request_id,))
        if existing is None:
            raise RequestNotFound(request_id)
        return _settlement(existing[0], existing[1], existing[2], existing[3])

    async def release(self, request_id: int, *, error_code: str) -> None:
        """Release a pending reservation (nothing was billed); no-op if already finished."""
        params = {"id": request_id, "error_code": error_code, "now": self._now_ms()}
        async with self._db.transaction() as tx:
            if (
                await tx.execute(_RELEASE_SQL, params) == 0
                and await tx.fetchone("SELECT 1 FROM requests WHERE id = ?", (request_id,)) is None
            ):
                raise RequestNotFound(request_id)

    async def recover_pending(self) -> int:
        """At start: settle every pending row from its checkpoints, release the rest."""
        async with self._db.transaction() as tx:
            return await tx.execute(_RECOVER_SQL, {"error_code": INTERRUPTED, "now": self._now_ms()})

    async def usage(self, guild_id: int, user_id: int, now: datetime | None = None) -> UsageSnapshot:
        moment = as_utc(now if now is not None else self._clock())
        params = {
            "guild_id": guild_id, "user_id": user_id,
            "day": day_key(epoch_ms(moment)), "month": month_key(moment),
        }  # fmt: skip
        row = await self._db.fetchone(_USAGE_SQL, params)
        assert row is not None
        return UsageSnapshot(
            images_today=row[0],
            member_month_micros=row[1],
            guild_month_micros=row[2],
            pending_images=row[3],
            pending_micros=row[4],
        )


def _check_limits(
    limits: Limits,
    moment: datetime,
    *,
    images: int,
    amount: int,
    images_today: int,
    member_month: int,
    guild_month: int,
) -> QuotaExceeded | None:
    checks: tuple[tuple[QuotaKind, int | None, int, int, datetime], ...] = (
        ("daily_images", limits.daily_images, images_today, images, next_utc_midnight(moment)),
        ("monthly_usd", limits.monthly_micros, member_month, amount, next_utc_month(moment)),
        ("guild_budget", limits.guild_monthly_micros, guild_month, amount, next_utc_month(moment)),
    )
    for kind, limit, used, requested, resets_at in checks:
        if limit is not None and used + requested > limit:
            return QuotaExceeded(kind, limit, used, requested, resets_at)
    return None
