from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from storage import Limits, QuotaExceeded, RequestNotFound, Settlement, Storage, UsageSnapshot, open_storage
from storage.ledger import SqliteLedger

from .conftest import NOW, PRICE, counters_match_rows, record, reserve


async def row(storage: Storage, request_id: int) -> dict:
    found = await storage.db.fetchone("SELECT * FROM requests WHERE id = ?", (request_id,))
    assert found is not None
    return dict(found)


async def test_reserve_then_settle_exact_micro_dollars(storage: Storage) -> None:
    rid = await reserve(storage.ledger, images=3)
    pending = await row(storage, rid)
    assert pending["status"] == "pending"
    assert pending["reserved_micros"] == 405_000  # 135000 x 3, integers only
    assert await storage.ledger.usage(1, 100, NOW) == UsageSnapshot(3, 405_000, 405_000, 3, 405_000)

    settlement = await storage.ledger.settle(rid, billed=3, delivered=2)
    assert settlement == Settlement(cost_micros=405_000, charged_micros=270_000, released_micros=135_000)
    settled = await row(storage, rid)
    assert (settled["status"], settled["images_billed"], settled["images_delivered"]) == ("settled", 3, 2)
    assert (settled["cost_micros"], settled["charged_micros"]) == (405_000, 270_000)
    assert settled["settled_at"] is not None
    assert await storage.ledger.usage(1, 100, NOW) == UsageSnapshot(2, 270_000, 405_000, 0, 0)
    await counters_match_rows(storage)


async def test_settle_is_idempotent_never_charges_twice(storage: Storage) -> None:
    rid = await reserve(storage.ledger, images=2)
    first = await storage.ledger.settle(rid, billed=2, delivered=2)
    second = await storage.ledger.settle(rid, billed=4, delivered=4, error_code="late")
    assert first == second == Settlement(270_000, 270_000, 0)
    assert (await storage.ledger.usage(1, 100, NOW)).member_month_micros == 270_000
    assert (await row(storage, rid))["error_code"] is None
    await storage.ledger.release(rid, error_code="too_late")  # no-op on a settled row
    assert (await row(storage, rid))["status"] == "settled"
    await counters_match_rows(storage)


async def test_delivered_above_billed_counts_as_billed(storage: Storage) -> None:
    # A gateway that reports fewer images than it sent: the ones delivered were made, so the
    # server's spend and budget see them, and the member pays for what they got.
    rid = await reserve(storage.ledger, images=4)
    settlement = await storage.ledger.settle(rid, billed=2, delivered=3)
    assert settlement == Settlement(cost_micros=405_000, charged_micros=405_000, released_micros=135_000)
    assert ((await row(storage, rid))["images_billed"], (await row(storage, rid))["images_delivered"]) == (3, 3)
    free = await reserve(storage.ledger, images=2)
    assert await storage.ledger.settle(free, billed=0, delivered=2) == Settlement(270_000, 270_000, 0)


async def test_partial_failure_charges_only_delivered(storage: Storage) -> None:
    rid = await reserve(storage.ledger, images=4)
    settlement = await storage.ledger.settle(rid, billed=4, delivered=1, error_code="upload_failed")
    assert settlement == Settlement(cost_micros=540_000, charged_micros=135_000, released_micros=405_000)
    assert (await row(storage, rid))["error_code"] == "upload_failed"


async def test_release_frees_the_reservation_and_settle_after_release_changes_nothing(storage: Storage) -> None:
    rid = await reserve(storage.ledger, images=2)
    await storage.ledger.release(rid, error_code="content_filter")
    released = await row(storage, rid)
    assert (released["status"], released["error_code"], released["cost_micros"]) == ("released", "content_filter", 0)
    assert await storage.ledger.usage(1, 100, NOW) == UsageSnapshot(0, 0, 0, 0, 0)
    assert await storage.ledger.settle(rid, billed=2, delivered=2) == Settlement(0, 0, 270_000)
    assert await storage.ledger.usage(1, 100, NOW) == UsageSnapshot(0, 0, 0, 0, 0)
    await counters_match_rows(storage)


async def test_unknown_request_ids(storage: Storage) -> None:
    with pytest.raises(RequestNotFound):
        await storage.ledger.settle(999, billed=1, delivered=1)
    with pytest.raises(RequestNotFound):
        await storage.ledger.release(999, error_code="x")
    with pytest.raises(RequestNotFound):
        await storage.ledger.record_billed(999, 1)
    with pytest.raises(RequestNotFound):
        await storage.ledger.record_delivered(999, 1)


async def test_bad_arguments(storage: Storage) -> None:
    with pytest.raises(ValueError, match="images"):
        await reserve(storage.ledger, images=0)
    with pytest.raises(ValueError, match="unit_price"):
        await reserve(storage.ledger, unit_price_micros=-1)
    with pytest.raises(ValueError, match="timezone"):
        await reserve(storage.ledger, now=datetime(2025, 1, 1))
    rid = await reserve(storage.ledger)
    with pytest.raises(ValueError, match="billed"):
        await storage.ledger.settle(rid, billed=-1, delivered=0)


async def test_a_non_utc_now_counts_in_the_utc_day(storage: Storage) -> None:
    tokyo_morning = datetime(2025, 3, 15, 8, 0, tzinfo=timezone(timedelta(hours=9)))  # 14 March 23:00 UTC
    await reserve(storage.ledger, now=tokyo_morning)
    assert (await storage.ledger.usage(1, 100, datetime(2025, 3, 14, 12, 0, tzinfo=UTC))).images_today == 1
    assert (await storage.ledger.usage(1, 100, datetime(2025, 3, 15, 0, 0, tzinfo=UTC))).images_today == 0


# -- refusals -------------------------------------------------------------------------


async def test_daily_image_limit_refuses_with_a_recorded_row(storage: Storage) -> None:
    limits = Limits(daily_images=3, monthly_micros=None, guild_monthly_micros=None)
    await reserve(storage.ledger, images=2, limits=limits)
    with pytest.raises(QuotaExceeded) as caught:
        await reserve(storage.ledger, images=2, limits=limits)
    error = caught.value
    assert (error.kind, error.limit, error.used, error.requested) == ("daily_images", 3, 2, 2)
    assert error.resets_at == datetime(2025, 3, 15, tzinfo=UTC)
    refused = await row(storage, error.request_id)
    assert (refused["status"], refused["error_code"], refused["reserved_micros"]) == ("refused", "daily_images", 0)
    assert refused["images_requested"] == 2
    # exactly at the limit is allowed
    await reserve(storage.ledger, images=1, limits=limits)
    assert (await storage.ledger.usage(1, 100, NOW)).images_today == 3
    await counters_match_rows(storage)


async def test_check_refuses_as_reserve_would_and_holds_nothing_otherwise(storage: Storage) -> None:
    limits = Limits(daily_images=3, monthly_micros=None, guild_monthly_micros=None)
    await reserve(storage.ledger, images=2, limits=limits)
    before = await storage.db.fetchall("SELECT id FROM requests")
    await storage.ledger.check(record(command="edit"), limits=limits, now=NOW)  # within it: nothing written or held
    assert await storage.db.fetchall("SELECT id FROM requests") == before
    assert (await storage.ledger.usage(1, 100, NOW)).pending_images == 2
    with pytest.raises(QuotaExceeded) as caught:
        await storage.ledger.check(record(command="edit", images=2), limits=limits, now=NOW)
    assert (caught.value.kind, caught.value.used, caught.value.requested) == ("daily_images", 2, 2)
    refused = await row(storage, caught.value.request_id)
    assert (refused["status"], refused["command"], refused["reserved_micros"]) == ("refused", "edit", 0)
    await counters_match_rows(storage)


async def test_daily_limit_counts_delivered_not_requested_once_settled(storage: Storage) -> None:
    limits = Limits(daily_images=4, monthly_micros=None, guild_monthly_micros=None)
    rid = await reserve(storage.ledger, images=4, limits=limits)
    await storage.ledger.settle(rid, billed=4, delivered=1)
    await reserve(storage.ledger, images=3, limits=limits)  # 1 delivered + 3 pending = 4
    with pytest.raises(QuotaExceeded):
        await reserve(storage.ledger, images=1, limits=limits)


async def test_day_boundary(storage: Storage) -> None:
    limits = Limits(daily_images=1, monthly_micros=None, guild_monthly_micros=None)
    last_ms = datetime(2025, 3, 14, 23, 59, 59, 999_000, tzinfo=UTC)
    await reserve(storage.ledger, limits=limits, now=last_ms)
    with pytest.raises(QuotaExceeded) as caught:
        await reserve(storage.ledger, limits=limits, now=last_ms)
    assert caught.value.resets_at == datetime(2025, 3, 15, tzinfo=UTC)
    await reserve(storage.ledger, limits=limits, now=datetime(2025, 3, 15, tzinfo=UTC))  # new UTC day


async def test_member_monthly_limit_with_december_to_january_rollover(storage: Storage) -> None:
    limits = Limits(daily_images=None, monthly_micros=300_000, guild_monthly_micros=None)
    dec = datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
    rid = await reserve(storage.ledger, images=2, limits=limits, now=dec)  # 270000
    with pytest.raises(QuotaExceeded) as caught:
        await reserve(storage.ledger, images=1, limits=limits, now=dec)
    error = caught.value
    assert (error.kind, error.limit, error.used, error.requested) == ("monthly_usd", 300_000, 270_000, 135_000)
    assert error.resets_at == datetime(2025, 1, 1, tzinfo=UTC)
    # settling charges only the delivered image, which frees room in December
    await storage.ledger.settle(rid, billed=2, delivered=1)
    await reserve(storage.ledger, images=1, limits=limits, now=dec)
    # January is a new month
    await reserve(storage.ledger, images=2, limits=limits, now=datetime(2025, 1, 1, tzinfo=UTC))
    jan = await storage.ledger.usage(1, 100, datetime(2025, 1, 20, tzinfo=UTC))
    assert jan.member_month_micros == 270_000
    assert (await storage.ledger.usage(1, 100, dec)).member_month_micros == 270_000


async def test_guild_budget_counts_cost_of_every_member(storage: Storage) -> None:
    limits = Limits(daily_images=None, monthly_micros=None, guild_monthly_micros=500_000)
    a = await reserve(storage.ledger, user_id=1, images=2, limits=limits)
    await storage.ledger.settle(a, billed=2, delivered=0)  # member pays 0, server paid 270000
    await reserve(storage.ledger, user_id=2, images=1, limits=limits)  # 405000 incl. pending
    with pytest.raises(QuotaExceeded) as caught:
        await reserve(storage.ledger, user_id=3, images=1, limits=limits)
    error = caught.value
    assert (error.kind, error.limit, error.used, error.requested) == ("guild_budget", 500_000, 405_000, 135_000)
    assert error.resets_at == datetime(2025, 4, 1, tzinfo=UTC)
    # another guild has its own budget
    await reserve(storage.ledger, guild_id=2, user_id=3, images=3, limits=limits)
    assert (await storage.ledger.usage(1, 1, NOW)).guild_month_micros == 405_000


async def test_limits_are_checked_in_order_and_zero_means_nothing(storage: Storage) -> None:
    with pytest.raises(QuotaExceeded) as caught:
        await reserve(storage.ledger, limits=Limits(0, 0, 0))
    assert caught.value.kind == "daily_images"
    with pytest.raises(QuotaExceeded) as caught:
        await reserve(storage.ledger, limits=Limits(None, 0, 0))
    assert caught.value.kind == "monthly_usd"
    # a money limit of 0 stops a free model (price 0, or a gateway without prices) too
    with pytest.raises(QuotaExceeded) as caught:
        await reserve(storage.ledger, unit_price_micros=0, limits=Limits(None, None, 0))
    assert caught.value.kind == "guild_budget"
    await reserve(storage.ledger, unit_price_micros=0, limits=Limits(None, 1, 1))


async def test_refused_rows_do_not_count(storage: Storage) -> None:
    limits = Limits(daily_images=1, monthly_micros=None, guild_monthly_micros=None)
    for _ in range(3):
        with pytest.raises(QuotaExceeded):
            await reserve(storage.ledger, images=2, limits=limits)
    assert await storage.ledger.usage(1, 100, NOW) == UsageSnapshot(0, 0, 0, 0, 0)
    refused = await storage.db.fetchall("SELECT count(*) FROM requests WHERE status = 'refused'")
    assert refused[0][0] == 3


# -- checkpoints and crash recovery ---------------------------------------------------


async def test_recover_pending_after_a_crash(db_url: str) -> None:
    storage = await open_storage(db_url)
    ledger = storage.ledger
    nothing_known = await reserve(ledger, images=2)
    billed_only = await reserve(ledger, images=2)
    await ledger.record_billed(billed_only, 2)
    partly_delivered = await reserve(ledger, images=4)
    await ledger.record_billed(partly_delivered, 3)
    await ledger.record_delivered(partly_delivered, 1)
    await ledger.record_delivered(partly_delivered, 2)  # cumulative
    delivered_no_billed = await reserve(ledger, images=2)
    await ledger.record_delivered(delivered_no_billed, 1)
    delivered_past_billed = await reserve(ledger, images=3)
    await ledger.record_billed(delivered_past_billed, 1)  # the gateway's own (under)count
    await ledger.record_delivered(delivered_past_billed, 2)
    finished = await reserve(ledger, images=1)
    await ledger.settle(finished, billed=1, delivered=1)
    await storage.close()  # the process dies here: nothing else is settled

    async with open_storage(db_url) as storage:
        assert await storage.ledger.recover_pending() == 5
        assert await storage.ledger.recover_pending() == 0
        r = await row(storage, nothing_known)
        assert (r["status"], r["error_code"], r["cost_micros"], r["charged_micros"]) == (
            "released",
            "interrupted",
            0,
            0,
        )
        r = await row(storage, billed_only)
        assert (r["status"], r["cost_micros"], r["charged_micros"]) == ("settled", 270_000, 0)
        assert r["error_code"] == "interrupted"
        r = await row(storage, partly_delivered)
        assert (r["status"], r["cost_micros"], r["charged_micros"]) == ("settled", 405_000, 270_000)
        r = await row(storage, delivered_no_billed)
        assert (r["status"], r["images_billed"], r["cost_micros"], r["charged_micros"]) == (
            "settled",
            1,
            135_000,
            135_000,
        )
        r = await row(storage, delivered_past_billed)
        assert (r["images_billed"], r["images_delivered"], r["cost_micros"], r["charged_micros"]) == (
            2,
            2,
            270_000,
            270_000,
        )
        r = await row(storage, finished)
        assert (r["status"], r["error_code"], r["charged_micros"]) == ("settled", None, 135_000)
        pending = await storage.db.fetchall("SELECT id FROM requests WHERE status = 'pending'")
        assert pending == []
        # a late settle from the old process changes nothing
        assert await storage.ledger.settle(nothing_known, billed=2, delivered=2) == Settlement(0, 0, 270_000)
        usage = await storage.ledger.usage(1, 100, NOW)
        assert usage == UsageSnapshot(
            images_today=0 + 0 + 2 + 1 + 2 + 1,
            member_month_micros=0 + 270_000 + 135_000 + 270_000 + 135_000,
            guild_month_micros=270_000 + 405_000 + 135_000 + 270_000 + 135_000,
            pending_images=0,
            pending_micros=0,
        )
        await counters_match_rows(storage)


async def test_checkpoints_after_settlement_are_ignored(storage: Storage) -> None:
    rid = await reserve(storage.ledger, images=2)
    await storage.ledger.settle(rid, billed=2, delivered=2)
    await storage.ledger.record_delivered(rid, 0)
    await storage.ledger.record_billed(rid, 0)
    r = await row(storage, rid)
    assert (r["images_billed"], r["images_delivered"]) == (2, 2)


async def test_rows_are_never_deleted_and_keys_never_move(storage: Storage) -> None:
    rid = await reserve(storage.ledger)
    with pytest.raises(Exception, match="never deleted"):
        await storage.db.run(lambda c: c.execute("DELETE FROM requests"))
    with pytest.raises(Exception, match="immutable"):
        await storage.db.run(lambda c: c.execute("UPDATE requests SET user_id = 5 WHERE id = ?", (rid,)))


async def test_injected_clock_stamps_settled_at(storage: Storage) -> None:
    fixed = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    ledger = SqliteLedger(storage.db, clock=lambda: fixed)
    rid = await reserve(ledger, now=None)
    await ledger.settle(rid, billed=1, delivered=1)
    r = await row(storage, rid)
    assert r["created_at"] == r["settled_at"] == int(fixed.timestamp() * 1000)
    assert (await ledger.usage(1, 100)).images_today == 1


async def test_snowflakes_fit(storage: Storage) -> None:
    guild, user = 1_234_567_890_123_456_789, 987_654_321_098_765_432
    await reserve(storage.ledger, guild_id=guild, user_id=user, channel_id=2**63 - 1)
    assert (await storage.ledger.usage(guild, user, NOW)).pending_images == 1


async def test_a_gateway_that_bills_more_than_requested_is_settled_as_requested(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    # Asked for 1, the gateway reports 4 billed and 4 delivered: spent never exceeds the reservation.
    rid = await reserve(storage.ledger, images=1)
    settlement = await storage.ledger.settle(rid, billed=4, delivered=4)
    assert settlement == Settlement(cost_micros=PRICE, charged_micros=PRICE, released_micros=0)
    r = await row(storage, rid)
    assert (r["images_billed"], r["images_delivered"], r["cost_micros"]) == (1, 1, r["reserved_micros"])
    assert await storage.ledger.usage(1, 100, NOW) == UsageSnapshot(1, PRICE, PRICE, 0, 0)
    assert "more images than the 1 requested (billed=4 delivered=4 reported)" in caplog.text
    await counters_match_rows(storage)


async def test_recovery_holds_checkpoints_past_the_request_to_the_request(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    storage = await open_storage(db_url)
    billed_over = await reserve(storage.ledger, images=2)
    await storage.ledger.record_billed(billed_over, 5)
    await storage.ledger.record_delivered(billed_over, 3)
    delivered_over = await reserve(storage.ledger, images=1)
    await storage.ledger.record_delivered(delivered_over, 3)
    await storage.close()  # the process dies here

    async with open_storage(db_url) as storage:
        assert await storage.ledger.recover_pending() == 2
        r = await row(storage, billed_over)
        assert (r["images_billed"], r["images_delivered"]) == (2, 2)
        assert (r["cost_micros"], r["charged_micros"]) == (2 * PRICE, 2 * PRICE)
        r = await row(storage, delivered_over)
        assert (r["images_billed"], r["images_delivered"]) == (1, 1)
        assert (r["cost_micros"], r["charged_micros"]) == (PRICE, PRICE)
        assert await storage.ledger.usage(1, 100, NOW) == UsageSnapshot(3, 3 * PRICE, 3 * PRICE, 0, 0)
        assert f"request {billed_over}: more images than the 2 requested (billed=5 delivered=3" in caplog.text
        assert f"request {delivered_over}: more images than the 1 requested (billed=None delivered=3" in caplog.text
        await counters_match_rows(storage)
