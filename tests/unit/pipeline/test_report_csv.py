"""The CSV streamed to a file is the CSV built in memory; it is gzipped only when it does not fit."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.report_csv import fit_csv, ledger_csv, write_csv
from storage.requests import LedgerRow

WHEN = datetime(2026, 11, 3, 9, tzinfo=UTC)


def row(n: int) -> LedgerRow:
    return LedgerRow(
        id=n, guild_id=1, channel_id=2, user_id=3, command="imagine", model="m", size="2K",
        prompt=("=cmd " if n % 2 else "一只猫 ") * 40, images_requested=1, images_billed=1, images_delivered=1,
        unit_price_micros=33_333, reserved_micros=33_333, cost_micros=33_333, charged_micros=33_333,
        status="settled", error_code=None, created_at=WHEN + timedelta(minutes=n), settled_at=None,
    )  # fmt: skip


def test_the_streamed_csv_is_the_in_memory_one(tmp_path: Path) -> None:
    rows = [row(n) for n in range(50)]
    path = tmp_path / "spend.csv"
    assert write_csv(path, iter(rows)) == path.stat().st_size
    assert path.read_bytes() == ledger_csv(rows)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # one byte order mark, at the start


def test_fit_csv_sends_it_as_it_is_gzipped_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    size = write_csv(path, (row(n) for n in range(500)))
    assert fit_csv(path, size) == path
    packed = fit_csv(path, size - 1)
    assert packed == tmp_path / "spend.csv.gz"
    assert gzip.decompress(packed.read_bytes()) == path.read_bytes()
    assert fit_csv(path, packed.stat().st_size - 1) is None
