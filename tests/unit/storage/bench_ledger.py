"""Throughput of reserve+settle pairs: 50 concurrent writers on one connection.

Run: ``.venv/bin/python -m tests.unit.storage.bench_ledger [pairs_per_writer]`` (not a test).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from storage import Limits, QuotaExceeded, RequestRecord, open_storage

WRITERS = 50
LIMITS = Limits(daily_images=10**9, monthly_micros=10**15, guild_monthly_micros=10**15)


async def run(pairs_per_writer: int, database_url: str) -> float:
    async with open_storage(database_url) as storage:
        ledger = storage.ledger

        async def writer(n: int) -> None:
            for i in range(pairs_per_writer):
                try:
                    rid = await ledger.reserve(RequestRecord(
                        guild_id=1 + n % 5, channel_id=10, user_id=100 + n, command="imagine",
                        model="seedream-4-5", size="2K", prompt=f"prompt {n} {i}", images=2,
                        unit_price_micros=135_000,
                    ), limits=LIMITS)  # fmt: skip
                except QuotaExceeded:
                    continue
                await ledger.settle(rid, billed=2, delivered=1)

        started = time.perf_counter()
        await asyncio.gather(*(writer(n) for n in range(WRITERS)))
        elapsed = time.perf_counter() - started
    return WRITERS * pairs_per_writer / elapsed


def main() -> None:
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        rate = asyncio.run(run(pairs, f"sqlite:///{Path(tmp) / 'bench.db'}"))
    print(f"{WRITERS} writers x {pairs} pairs: {rate:,.0f} reserve+settle pairs/s")


if __name__ == "__main__":
    main()
