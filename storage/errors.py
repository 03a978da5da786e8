"""Errors raised by the storage layer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

QuotaKind = Literal["daily_images", "monthly_usd", "guild_budget"]


class StorageError(Exception):
    """Base class for storage errors."""


class RequestNotFound(StorageError, LookupError):
    """No ledger row has this request id."""

    def __init__(self, request_id: int) -> None:
        super().__init__(f"no ledger request with id {request_id}")
        self.request_id = request_id


class QuotaExceeded(StorageError):
    """A reservation would go over a limit; the refusal is recorded as a 'refused' row.

    ``limit``, ``used`` and ``requested`` are images for ``daily_images`` and
    micro-dollars for ``monthly_usd`` / ``guild_budget``.
    """

    def __init__(
        self,
        kind: QuotaKind,
        limit: int,
        used: int,
        requested: int,
        resets_at: datetime,
        *,
        images: int = 1,
        request_id: int | None = None,
    ) -> None:
        super().__init__(
            f"{kind} quota exceeded: used {used} + requested {requested} > limit {limit}"
            f" (resets at {resets_at.isoformat()})"
        )
        self.kind: QuotaKind = kind
        self.limit = limit
        self.used = used
        self.requested = requested
        self.images = images  # of the request: a money limit's `requested` is their price together
        self.resets_at = resets_at
        self.request_id = request_id  # the 'refused' row, for the audit trail
