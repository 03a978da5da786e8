"""Many reservations at once on one connection never overshoot a limit."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from storage import Limits, QuotaExceeded, Storage, open_storage

from .conftest import NOW, PRICE, counters_match_rows, reserve


async def _gather_outcomes(storage: Storage, calls: list[dict]) -> list[int | QuotaExceeded]:
    async def one(kwargs: dict) -> int | QuotaExceeded:
        try:
            return await reserve(storage.ledger, **kwargs)
        except QuotaExceeded as refused:
            return refused

    return await asyncio.gather(*(one(kwargs) for kwargs in calls))


async def test_200_concurrent_reservations_against_a_daily_limit(storage: Storage) -> None:
    limits = Limits(daily_images=7, monthly_micros=None, guild_monthly_micros=None)
    outcomes = await _gather_outcomes(storage, [{"limits": limits}] * 200)
    accepted = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
    assert len(accepted) == 7
    assert len(refused) == 193
    assert {r.kind for r in refused} == {"daily_images"}
    assert {r.used for r in refused} == {7}
    assert (await storage.ledger.usage(1, 100, NOW)).images_today == 7
    counts = await storage.db.fetchall("SELECT status, count(*) FROM requests GROUP BY status")
    assert dict(map(tuple, counts)) == {"pending": 7, "refused": 193}


async def test_200_concurrent_reservations_many_members_one_guild_budget(db_url: str) -> None:
    # 20 members x 10 requests of one image; 3 images per member per day; a guild budget
    # of 25 images. Whatever the interleaving: exactly 25 accepted, 175 refused.
    limits = Limits(daily_images=3, monthly_micros=None, guild_monthly_micros=25 * PRICE)
    calls = [{"user_id": member, "limits": limits} for member in range(20) for _ in range(10)]
    random.Random(7).shuffle(calls)
    async with open_storage(db_url) as storage:
        outcomes = await _gather_outcomes(storage, calls)
        accepted = [o for o in outcomes if isinstance(o, int)]
        refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
        assert len(accepted) == 25
        assert len(refused) == 175
        assert {r.kind for r in refused} <= {"daily_images", "guild_budget"}
        assert all(r.used + r.requested > r.limit for r in refused)
        per_member = Counter(
            r[0] for r in await storage.db.fetchall("SELECT user_id FROM requests WHERE status = 'pending'")
        )
        assert max(per_member.values()) <= 3
        assert (await storage.ledger.usage(1, 0, NOW)).guild_month_micros == 25 * PRICE
        db_refused = await storage.db.fetchall("SELECT count(*) FROM requests WHERE status = 'refused'")
        assert db_refused[0][0] == 175
        await counters_match_rows(storage)


async def test_concurrent_reserve_and_settle_never_overshoot(storage: Storage) -> None:
    """Settling frees room while others reserve; the member month never goes over."""
    limits = Limits(daily_images=None, monthly_micros=10 * PRICE, guild_monthly_micros=30 * PRICE)
    rng = random.Random(3)

    async def member_job(member: int, images: int, delivered: int) -> None:
        try:
            rid = await reserve(storage.ledger, user_id=member, images=images, limits=limits)
        except QuotaExceeded:
            return
        await asyncio.sleep(0)
        await storage.ledger.settle(rid, billed=images, delivered=delivered)

    jobs = []
    for _ in range(200):
        images = rng.randint(1, 4)
        jobs.append(member_job(rng.randrange(5), images, rng.randint(0, images)))
    await asyncio.gather(*jobs)
    for member in range(5):
        usage = await storage.ledger.usage(1, member, NOW)
        assert usage.member_month_micros <= 10 * PRICE
        assert usage.pending_images == 0
    assert (await storage.ledger.usage(1, 0, NOW)).guild_month_micros <= 30 * PRICE
    await counters_match_rows(storage)
