"""The CSV attachment of a spend report: one line per ledger row, amounts as exact USD decimals.

Amounts have six decimals (micro-dollars), so summing a column gives the ledger's total to
the micro-dollar. Text a member typed (the prompt) is neutralised against spreadsheet formula
injection: a cell starting with = + - @ or a tab gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from storage.reports import LedgerRow

COLUMNS = (
    "request_id", "created_at_utc", "settled_at_utc", "user_id", "channel_id", "command", "model", "size",
    "status", "error_code", "images_requested", "images_billed", "images_delivered", "unit_price_usd",
    "cost_usd", "charged_usd", "prompt",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def usd_exact(micros: int) -> str:
    """123450 -> "0.123450": the exact amount, no rounding."""
    return f"{Decimal(micros).scaleb(-6):.6f}"


def _safe(text: str | None) -> str:
    if not text:
        return ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _line(row: LedgerRow) -> list[object]:
    return [
        row.id,
        row.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        row.settled_at.strftime("%Y-%m-%d %H:%M:%S") if row.settled_at else "",
        row.user_id,
        row.channel_id,
        row.command,
        row.model,
        row.size or "",
        row.status,
        _safe(row.error_code),
        row.images_requested,
        "" if row.images_billed is None else row.images_billed,
        "" if row.images_delivered is None else row.images_delivered,
        usd_exact(row.unit_price_micros),
        usd_exact(row.cost_micros),
        usd_exact(row.charged_micros),
        _safe(row.prompt),
    ]


def ledger_csv(rows: Iterable[LedgerRow]) -> bytes:
    """UTF-8 with a byte order mark, so spreadsheet programs read Chinese prompts correctly."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(_line(row) for row in rows)
    return buffer.getvalue().encode("utf-8-sig")
