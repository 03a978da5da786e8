"""Value objects of the ledger and the UTC calendar arithmetic the quotas use.

Timestamps are stored as integer milliseconds since the Unix epoch (UTC). A request
belongs to the UTC day and calendar month of its ``created_at`` (the reservation time),
also after it is settled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MS_PER_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RequestRecord:
    """What the ledger records of a request when it reserves (or refuses) it."""

    guild_id: int
    channel_id: int
    user_id: int
    command: str
    model: str
    size: str | None
    prompt: str  # the member's own words
    images: int  # requested: the worst case reserved
    unit_price_micros: int
    reference_images: int = 0  # how many images it was made from (they are not kept)
    locale: str | None = None  # the member's Discord locale, for notices sent without an interaction


@dataclass(frozen=True)
class Limits:
    daily_images: int | None  # per member per UTC day, counts delivered (+ reserved)
    monthly_micros: int | None  # per member per calendar month (UTC), member charge
    guild_monthly_micros: int | None  # per server per month, what the gateway billed


@dataclass(frozen=True)
class Settlement:
    cost_micros: int  # server spend: unit price x billed
    charged_micros: int  # member charge: unit price x min(delivered, billed)
    released_micros: int  # reservation given back to the member: max(0, reserved - charged)


@dataclass(frozen=True)
class UsageSnapshot:
    """Usage of one member in one guild at ``now``; the totals include pending reservations."""

    images_today: int  # delivered (settled) + requested (pending), this UTC day
    member_month_micros: int  # charged (settled) + reserved (pending), this UTC month
    guild_month_micros: int  # cost (settled) + reserved (pending) of the whole guild, this month
    pending_images: int  # the member's reservations still pending, made this UTC month
    pending_micros: int


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime:
    if moment is None:
        return utc_now()
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetimes given to the ledger must be timezone-aware")
    return moment.astimezone(UTC)


def epoch_ms(moment: datetime) -> int:
    """Exact integer milliseconds since the epoch (no float rounding)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(ms: int) -> datetime:
    """The UTC moment of `epoch_ms`'s milliseconds."""
    return _EPOCH + timedelta(milliseconds=ms)


def day_key(ms: int) -> int:
    """UTC day number; SQL computes the same as ``created_at / 86400000`` (created_at >= 0)."""
    return ms // MS_PER_DAY


def month_days(moment: datetime) -> tuple[int, int]:
    """Day numbers ``[first, next month's first)`` of the UTC month of ``moment``."""
    moment = moment.astimezone(UTC)
    first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    return day_key(epoch_ms(first)), day_key(epoch_ms(next_utc_month(moment)))


def next_utc_midnight(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def next_utc_month(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    if moment.month == 12:
        return datetime(moment.year + 1, 1, 1, tzinfo=UTC)
    return datetime(moment.year, moment.month + 1, 1, tzinfo=UTC)
