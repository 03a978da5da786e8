"""The CSV attachment of a spend report: one line per ledger row, amounts as exact USD decimals.

Amounts have six decimals (micro-dollars), so summing a column gives the ledger's total to
the micro-dollar. Text a member typed (the prompt) is neutralised against spreadsheet formula
injection: a cell starting with = + - @ or a tab gets a leading apostrophe.

A month of a busy server is a hundred thousand rows: ``write_csv`` streams them to a file as
they are read (in a worker thread), and ``fit_csv`` gzips that file when it is too large to
send as it is, a chunk at a time, so neither holds the whole CSV in memory.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from storage.requests import LedgerRow

COLUMNS = (
    "request_id", "created_at_utc", "settled_at_utc", "user_id", "channel_id", "command", "model", "size",
    "status", "error_code", "images_requested", "images_billed", "images_delivered", "unit_price_usd",
    "cost_usd", "charged_usd", "prompt",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 1024 * 1024


def usd_exact(micros: int) -> str:
    """123450 -> "0.123450": the exact amount, no rounding."""
    whole, fraction = divmod(abs(micros), 1_000_000)
    return f"{'-' if micros < 0 else ''}{whole}.{fraction:06d}"


def _when(moment: datetime) -> str:
    return moment.isoformat(" ", "seconds")[:19]  # "2026-11-03 09:01:02", as strftime but quicker


def _safe(text: str | None) -> str:
    if not text:
        return ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _line(row: LedgerRow) -> list[object]:
    return [
        row.id,
        _when(row.created_at),
        _when(row.settled_at) if row.settled_at else "",
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
    _write(buffer, rows)
    return buffer.getvalue().encode("utf-8-sig")


def _write(out: io.TextIOBase, rows: Iterable[LedgerRow]) -> None:
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(_line(row) for row in rows)


def write_csv(path: Path, rows: Iterable[LedgerRow]) -> int:
    """``ledger_csv(rows)`` written to ``path`` row by row; returns its size in bytes."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        _write(out, rows)
    return path.stat().st_size


def fit_csv(path: Path, room: int) -> Path | None:
    """The CSV file to send within ``room`` bytes: ``path`` itself, else ``path`` gzipped beside it
    (CSV shrinks several times), else None when even that is too large."""
    if path.stat().st_size <= room:
        return path
    packed = path.with_name(path.name + ".gz")
    with path.open("rb") as plain, packed.open("wb") as raw:
        with gzip.GzipFile(path.name, "wb", compresslevel=6, fileobj=raw) as out:
            while (chunk := plain.read(_CHUNK)) and raw.tell() <= room:  # stop once it cannot fit
                out.write(chunk)
        return packed if not chunk and raw.tell() <= room else None
