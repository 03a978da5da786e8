"""The ledger: every request is a row; money is reserved before the call and settled after.

``SqliteLedger`` implements the ``Ledger`` protocol of docs/ARCHITECTURE.md. Every write is
one ``BEGIN IMMEDIATE`` transaction run in a single hop to the connection's thread
(``Database.run``), with as few statements as possible: a reservation reads the trigger-
maintained counters in one SELECT and inserts one row; a settlement is one UPDATE ...
RETURNING. Quota usage belongs to the UTC day / month of the reservation (``created_at``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from storage.connection import Database
from storage.errors import QuotaExceeded, QuotaKind, RequestNotFound
from storage.models import (
    Limits,
    RequestRecord,
    Settlement,
    UsageSnapshot,
    as_utc,
    day_key,
    epoch_ms,
    from_epoch_ms,
    month_days,
    next_utc_midnight,
    next_utc_month,
    utc_now,
)

__all__ = [  # the value types are re-exported: callers import them from here
    "INTERRUPTED",
    "Ledger",
    "Limits",
    "QuotaExceeded",
    "RequestNotFound",
    "RequestRecord",
    "Settlement",
    "SqliteLedger",
    "UsageSnapshot",
]

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"  # error_code of rows finished by recover_pending()
_UNLIMITED = Limits(None, None, None)


class Ledger(Protocol):
    def now(self) -> datetime: ...

    async def reserve(self, request: RequestRecord, *, limits: Limits, now: datetime | None = None) -> int: ...

    async def check(
        self, request: RequestRecord, *, limits: Limits, now: datetime | None = None, as_if_unspent: bool = False
    ) -> None: ...

    async def recheck(self, request_id: int, *, limits: Limits, behind: Sequence[int] = ()) -> None: ...

    async def record_refusal(self, request: RequestRecord, *, error_code: str, now: datetime | None = None) -> int: ...

    async def record_billed(self, request_id: int, billed: int) -> None: ...

    async def record_delivered(self, request_id: int, delivered: int) -> None: ...

    async def settle(
        self, request_id: int, *, billed: int, delivered: int, error_code: str | None = None
    ) -> Settlement: ...

    async def release(self, request_id: int, *, error_code: str) -> None: ...

    async def recover_pending(self) -> int: ...

    async def usage(self, guild_id: int, user_id: int, now: datetime | None = None) -> UsageSnapshot: ...


# images today, member's month, guild's month - pending rows included (see migrations.py)
_COUNTERS_SQL = """
SELECT
  COALESCE((SELECT images FROM usage_member_day
            WHERE guild_id = :guild_id AND user_id = :user_id AND day = :day), 0),
  COALESCE((SELECT SUM(member_micros) FROM usage_member_day
            WHERE guild_id = :guild_id AND user_id = :user_id
              AND day >= :month_first AND day < :month_end), 0),
  COALESCE((SELECT SUM(guild_micros) FROM usage_guild_day
            WHERE guild_id = :guild_id AND day >= :month_first AND day < :month_end), 0)
"""

# this month's only: a request counts in the month it was reserved in (`_COUNTERS_SQL`)
_PENDING_SQL = """
SELECT COALESCE(SUM(images_requested), 0), COALESCE(SUM(reserved_micros), 0)
FROM requests WHERE guild_id = :guild_id AND user_id = :user_id AND status = 'pending'
  AND created_at >= :month_first * 86400000 AND created_at < :month_end * 86400000
"""

_INSERT_SQL = """
INSERT INTO requests (guild_id, channel_id, user_id, command, model, size, prompt,
                      images_requested, unit_price_micros, reserved_micros, status,
                      error_code, created_at, reference_images, locale)
VALUES (:guild_id, :channel_id, :user_id, :command, :model, :size, :prompt,
        :images, :unit_price_micros, :reserved_micros, :status, :error_code, :created_at,
        :reference_images, :locale)
"""

# Nothing past the request is settled: billed and delivered are clamped to images_requested,
# so what is spent never exceeds the reservation (a gateway that sends more than asked for).
# Nothing delivered goes unbilled: an image that reached the member was made, whatever count
# the gateway reported (one that reports fewer would hand out images the budget never sees).
_SETTLE_SQL = """
UPDATE requests
SET status = 'settled', images_billed = MIN(MAX(:billed, :delivered), images_requested),
    images_delivered = MIN(:delivered, images_requested),
    cost_micros = unit_price_micros * MIN(MAX(:billed, :delivered), images_requested),
    charged_micros = unit_price_micros * MIN(:delivered, images_requested),
    error_code = :error_code, settled_at = :now
WHERE id = :id AND status = 'pending'
RETURNING cost_micros, charged_micros, reserved_micros, images_requested
"""

_EXISTING_SQL = "SELECT status, cost_micros, charged_micros, reserved_micros FROM requests WHERE id = ?"

_PENDING_ROW_SQL = """
SELECT guild_id, user_id, images_requested, reserved_micros, created_at FROM requests
WHERE id = ? AND status = 'pending'
"""

_RELEASE_SQL = """
UPDATE requests
SET status = 'released', cost_micros = 0, charged_micros = 0, error_code = :error_code,
    settled_at = :now
WHERE id = :id AND status = 'pending'
"""

# What is known settles: billed = the larger of the billed checkpoint and the delivered count
# (those were certainly billed; either may be missing) -> 'settled', charging the delivered;
# both clamped to images_requested, as settle() does. Nothing known -> 'released'. Both keep
# an earlier error_code, else get 'interrupted'.
_RECOVER_SQL = """
UPDATE requests
SET status = CASE WHEN COALESCE(images_billed, images_delivered) IS NULL
                  THEN 'released' ELSE 'settled' END,
    images_billed = MIN(MAX(COALESCE(images_billed, images_delivered), COALESCE(images_delivered, images_billed)),
                        images_requested),
    images_delivered = CASE WHEN COALESCE(images_billed, images_delivered) IS NULL
                            THEN NULL ELSE MIN(COALESCE(images_delivered, 0), images_requested) END,
    cost_micros = unit_price_micros * MIN(MAX(COALESCE(images_billed, 0), COALESCE(images_delivered, 0)),
                                          images_requested),
    charged_micros = unit_price_micros * MIN(COALESCE(images_delivered, 0), images_requested),
    error_code = COALESCE(error_code, :error_code),
    settled_at = :now
WHERE status = 'pending'
"""

# Checkpoints past the request, read before recovery clamps them (for the log).
_OVER_REQUESTED_SQL = """
SELECT id, images_requested, images_billed, images_delivered FROM requests
WHERE status = 'pending' AND (images_billed > images_requested OR images_delivered > images_requested)
"""


@dataclass(frozen=True)
class _Reserved:
    request_id: int
    refusal: QuotaExceeded | None


def _settlement(status: str, cost: int, charged: int, reserved: int) -> Settlement:
    if status == "settled":
        return Settlement(cost, charged, max(0, reserved - charged))
    if status == "released":
        return Settlement(0, 0, reserved)
    return Settlement(0, 0, 0)  # refused: nothing was reserved


def _log_over_requested(request_id: int, requested: int, billed: int | None, delivered: int | None) -> None:
    """The gateway's own figures are kept in the log when the books hold them to the request."""
    log.warning(
        "request %s: more images than the %d requested (billed=%s delivered=%s reported); settled as %d at most",
        request_id, requested, billed, delivered, requested,
    )  # fmt: skip


def _non_negative(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def _require_row(conn: sqlite3.Connection, request_id: int) -> None:
    if conn.execute("SELECT 1 FROM requests WHERE id = ?", (request_id,)).fetchone() is None:
        raise RequestNotFound(request_id)


def _check_limits(
    limits: Limits, moment: datetime, *, images: int, amount: int, counters: sqlite3.Row
) -> QuotaExceeded | None:
    images_today, member_month, guild_month = counters
    checks: tuple[tuple[QuotaKind, int | None, int, int, datetime], ...] = (
        ("daily_images", limits.daily_images, images_today, images, next_utc_midnight(moment)),
        ("monthly_usd", limits.monthly_micros, member_month, amount, next_utc_month(moment)),
        ("guild_budget", limits.guild_monthly_micros, guild_month, amount, next_utc_month(moment)),
    )
    for kind, limit, used, requested, resets_at in checks:
        # A limit of 0 allows nothing, not even an image that costs nothing (a gateway without
        # prices): "a budget set to 0 stops everything".
        if limit is not None and (used + requested > limit or limit == 0):
            return QuotaExceeded(kind, limit, used, requested, resets_at, images=images)
    return None


class SqliteLedger:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock  # settled_at, and reserve()/usage() without ``now``

    def _moment(self, now: datetime | None) -> datetime:
        return as_utc(now if now is not None else self._clock())

    def now(self) -> datetime:
        """The ledger's time: pass it to `reserve` to know the day and month a request counts in."""
        return self._moment(None)

    async def reserve(self, request: RequestRecord, *, limits: Limits, now: datetime | None = None) -> int:
        """Reserve ``images x unit_price_micros``; over a limit, record a 'refused' row and
        raise ``QuotaExceeded`` (checked in order: daily_images, monthly_usd, guild_budget)."""
        request_id = await self._reserve_or_refuse(request, limits, now, hold=True)
        assert request_id is not None
        return request_id

    async def check(
        self, request: RequestRecord, *, limits: Limits, now: datetime | None = None, as_if_unspent: bool = False
    ) -> None:
        """What `reserve` would refuse now is refused the same way (a 'refused' row,
        ``QuotaExceeded``); within the limits nothing is written or held. For a refusal that
        must come before a slow step; `reserve` checks again after it. `as_if_unspent`: against
        the limits alone, nothing spent counted (what no later day or month could allow)."""
        await self._reserve_or_refuse(request, limits, now, hold=False, as_if_unspent=as_if_unspent)

    async def _reserve_or_refuse(
        self, request: RequestRecord, limits: Limits, now: datetime | None, *, hold: bool, as_if_unspent: bool = False
    ) -> int | None:
        images = request.images
        if images < 1:
            raise ValueError(f"images must be >= 1, got {images}")
        _non_negative("unit_price_micros", request.unit_price_micros)
        moment = self._moment(now)
        created_ms = epoch_ms(moment)
        month_first, month_end = month_days(moment)
        amount = images * request.unit_price_micros
        params: dict[str, Any] = {
            **vars(request), "created_at": created_ms,
            "day": day_key(created_ms), "month_first": month_first, "month_end": month_end,
        }  # fmt: skip

        def tx(conn: sqlite3.Connection) -> _Reserved | None:
            refusal = None
            if limits != _UNLIMITED:
                counters = (0, 0, 0) if as_if_unspent else conn.execute(_COUNTERS_SQL, params).fetchone()
                refusal = _check_limits(limits, moment, images=images, amount=amount, counters=counters)
            if refusal is None:
                if not hold:
                    return None
                params.update(reserved_micros=amount, status="pending", error_code=None)
            else:
                params.update(reserved_micros=0, status="refused", error_code=refusal.kind)
            cursor = conn.execute(_INSERT_SQL, params)
            assert cursor.lastrowid is not None
            return _Reserved(cursor.lastrowid, refusal)

        if not hold and limits == _UNLIMITED:
            return None
        reserved = await self._db.run(tx)
        if reserved is None:
            return None
        if reserved.refusal is not None:
            reserved.refusal.request_id = reserved.request_id
            raise reserved.refusal
        return reserved.request_id

    async def recheck(self, request_id: int, *, limits: Limits, behind: Sequence[int] = ()) -> None:
        """A pending request checked again against `limits` (changed since it was reserved: a budget
        lowered while it waited in line), counting everything spent and held in its day and month
        but itself and the requests `behind` it (still waiting in line: first come, first served).
        Over them it is released, its error code the limit's, and ``QuotaExceeded`` raised, in one
        transaction; a request no longer pending passes."""

        def tx(conn: sqlite3.Connection) -> QuotaExceeded | None:
            row = conn.execute(_PENDING_ROW_SQL, (request_id,)).fetchone()
            if row is None:
                _require_row(conn, request_id)
                return None
            guild_id, user_id, images, amount, created_ms = row
            moment = from_epoch_ms(created_ms)
            day, (month_first, month_end) = day_key(created_ms), month_days(moment)
            params = {"guild_id": guild_id, "user_id": user_id, "day": day,
                      "month_first": month_first, "month_end": month_end}  # fmt: skip
            images_today, member_month, guild_month = conn.execute(_COUNTERS_SQL, params).fetchone()
            # its own hold taken out, and what those behind it hold in the same day and month
            for other in [request_id, *behind]:
                held = conn.execute(_PENDING_ROW_SQL, (other,)).fetchone()
                if held is None or held[0] != guild_id:
                    continue
                held_day = day_key(held[4])
                if not month_first <= held_day < month_end:
                    continue
                guild_month -= held[3]
                if held[1] == user_id:
                    member_month -= held[3]
                    images_today -= held[2] if held_day == day else 0
            refusal = _check_limits(limits, moment, images=images, amount=amount,
                                    counters=(images_today, member_month, guild_month))
            if refusal is not None:
                conn.execute(_RELEASE_SQL, {"id": request_id, "error_code": refusal.kind,
                                            "now": epoch_ms(self._moment(None))})  # fmt: skip
                refusal.request_id = request_id
            return refusal

        refusal = await self._db.run(tx)
        if refusal is not None:
            raise refusal

    async def record_refusal(self, request: RequestRecord, *, error_code: str, now: datetime | None = None) -> int:
        """A request refused before any limit was looked at (a blocked term, a channel or role the
        server does not allow): a 'refused' row, nothing reserved, so /history shows the attempt."""
        created_ms = epoch_ms(self._moment(now))
        params = {**vars(request), "created_at": created_ms, "reserved_micros": 0, "status": "refused",
                  "error_code": error_code}  # fmt: skip

        def tx(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(_INSERT_SQL, params)
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        return await self._db.run(tx)

    async def record_billed(self, request_id: int, billed: int) -> None:
        """Checkpoint: the gateway billed ``billed`` images (a crash can still be settled)."""
        _non_negative("billed", billed)
        await self._checkpoint("images_billed", request_id, billed)

    async def record_delivered(self, request_id: int, delivered: int) -> None:
        """Checkpoint: ``delivered`` images (cumulative) have been posted so far."""
        _non_negative("delivered", delivered)
        await self._checkpoint("images_delivered", request_id, delivered)

    async def _checkpoint(self, column: str, request_id: int, value: int) -> None:
        sql = f"UPDATE requests SET {column} = ? WHERE id = ? AND status = 'pending'"  # noqa: S608

        def tx(conn: sqlite3.Connection) -> None:
            # A row no longer pending ignores a late checkpoint - but it must exist.
            if conn.execute(sql, (value, request_id)).rowcount == 0:
                _require_row(conn, request_id)

        await self._db.run(tx)

    async def settle(
        self, request_id: int, *, billed: int, delivered: int, error_code: str | None = None
    ) -> Settlement:
        """Settle a pending row: cost = price x billed, charge = price x delivered, both counts held
        to the images requested (what was reserved) and billed to at least delivered (see
        `_SETTLE_SQL`).

        Idempotent: on a row already settled or released nothing changes and the existing
        settlement is returned, so a member is never charged twice.
        """
        _non_negative("billed", billed)
        _non_negative("delivered", delivered)
        params = {
            "id": request_id, "billed": billed, "delivered": delivered,
            "error_code": error_code, "now": epoch_ms(self._moment(None)),
        }  # fmt: skip

        def tx(conn: sqlite3.Connection) -> Settlement:
            row = conn.execute(_SETTLE_SQL, params).fetchone()
            if row is not None:
                if max(billed, delivered) > row[3]:
                    _log_over_requested(request_id, row[3], billed, delivered)
                return _settlement("settled", row[0], row[1], row[2])
            existing = conn.execute(_EXISTING_SQL, (request_id,)).fetchone()
            if existing is None:
                raise RequestNotFound(request_id)
            return _settlement(*existing)

        return await self._db.run(tx)

    async def release(self, request_id: int, *, error_code: str) -> None:
        """Release a pending reservation (nothing was billed); no-op if already finished."""
        params = {"id": request_id, "error_code": error_code, "now": epoch_ms(self._moment(None))}

        def tx(conn: sqlite3.Connection) -> None:
            if conn.execute(_RELEASE_SQL, params).rowcount == 0:
                _require_row(conn, request_id)

        await self._db.run(tx)

    async def recover_pending(self) -> int:
        """At start, before taking commands: settle every pending row from its checkpoints,
        release those with none (error_code 'interrupted'), and put them on the list of members to
        tell (`RequestStore.untold`), all in one transaction. Returns how many rows it finished."""
        params = {"error_code": INTERRUPTED, "now": epoch_ms(self._moment(None))}

        def tx(conn: sqlite3.Connection) -> int:
            for over in conn.execute(_OVER_REQUESTED_SQL).fetchall():
                _log_over_requested(over[0], over[1], over[2], over[3])
            conn.execute("INSERT OR IGNORE INTO untold (request_id) SELECT id FROM requests WHERE status = 'pending'")
            return conn.execute(_RECOVER_SQL, params).rowcount

        return await self._db.run(tx)

    async def usage(self, guild_id: int, user_id: int, now: datetime | None = None) -> UsageSnapshot:
        moment = self._moment(now)
        month_first, month_end = month_days(moment)
        params = {
            "guild_id": guild_id, "user_id": user_id, "day": day_key(epoch_ms(moment)),
            "month_first": month_first, "month_end": month_end,
        }  # fmt: skip

        def tx(conn: sqlite3.Connection) -> UsageSnapshot:
            images_today, member_month, guild_month = conn.execute(_COUNTERS_SQL, params).fetchone()
            pending_images, pending_micros = conn.execute(_PENDING_SQL, params).fetchone()
            return UsageSnapshot(images_today, member_month, guild_month, pending_images, pending_micros)

        return await self._db.run(tx, write=False)
