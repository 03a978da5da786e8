"""Random reserve / checkpoint / settle / release / crash-restart sequences against a model.

The model predicts every outcome exactly (accepted or which limit refuses; every
settlement), and after each step the invariants are checked: nothing spent goes over a
limit, the counters and usage() equal the sums over the rows, a member is never charged
more than the server paid, and no row is pending after recovery.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from storage import Limits, QuotaExceeded, RequestRecord, Settlement, Storage, open_storage
from storage.models import next_utc_midnight, next_utc_month

from .conftest import counters_match_rows

T = TypeVar("T")

GUILDS = (1, 2)
MEMBERS = (10, 11, 12)
PRICES = (0, 35_000, 135_000)
OVER = 3  # a gateway may report up to this many images past the request (clamped by the ledger)
# the last millisecond of 2024 and the first moments of 2025: day, month and year rollover
MOMENTS = (
    datetime(2024, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
    datetime(2025, 1, 1, 0, 0, tzinfo=UTC),
    datetime(2025, 1, 1, 18, 30, tzinfo=UTC),
    datetime(2025, 1, 2, 0, 0, tzinfo=UTC),
)


@dataclass
class Row:
    guild: int
    user: int
    moment: datetime
    images: int
    price: int
    status: str = "pending"
    billed: int | None = None
    delivered: int | None = None
    cost: int = 0
    charged: int = 0

    @property
    def reserved(self) -> int:
        return self.images * self.price

    def day_images(self) -> int:
        return {"pending": self.images, "settled": self.delivered or 0}.get(self.status, 0)

    def member_micros(self) -> int:
        return {"pending": self.reserved, "settled": self.charged}.get(self.status, 0)

    def guild_micros(self) -> int:
        return {"pending": self.reserved, "settled": self.cost}.get(self.status, 0)

    def settle(self, billed: int, delivered: int) -> None:
        """As the ledger settles: both counts held to the images requested (a gateway may report
        more), and billed to at least delivered (a gateway may report fewer than it sent)."""
        billed, delivered = min(max(billed, delivered), self.images), min(delivered, self.images)
        self.status, self.billed, self.delivered = "settled", billed, delivered
        self.cost, self.charged = self.price * billed, self.price * delivered


def same_day(a: datetime, b: datetime) -> bool:
    return a.date() == b.date()


def same_month(a: datetime, b: datetime) -> bool:
    return (a.year, a.month) == (b.year, b.month)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-machine-"))
        self.url = f"sqlite:///{self.dir / 'ledger.db'}"
        self.storage: Storage = self.run(self._open())
        self.rows: dict[int, Row] = {}
        self.limits = Limits(None, None, None)
        self.recovered = False

    async def _open(self) -> Storage:
        return await open_storage(self.url)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    def teardown(self) -> None:
        try:
            self.run(self.storage.close())
        finally:
            self.runner.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- the model's sums -------------------------------------------------------------

    def images_today(self, guild: int, user: int, moment: datetime) -> int:
        return sum(
            r.day_images()
            for r in self.rows.values()
            if (r.guild, r.user) == (guild, user) and same_day(r.moment, moment)
        )

    def member_month(self, guild: int, user: int, moment: datetime) -> int:
        return sum(
            r.member_micros()
            for r in self.rows.values()
            if (r.guild, r.user) == (guild, user) and same_month(r.moment, moment)
        )

    def guild_month(self, guild: int, moment: datetime) -> int:
        return sum(r.guild_micros() for r in self.rows.values() if r.guild == guild and same_month(r.moment, moment))

    def expected_refusal(self, guild: int, user: int, moment: datetime, images: int, price: int) -> str | None:
        amount = images * price
        lim = self.limits
        if lim.daily_images is not None and self.images_today(guild, user, moment) + images > lim.daily_images:
            return "daily_images"
        # a money limit of 0 allows nothing, not even a free image
        monthly, budget = lim.monthly_micros, lim.guild_monthly_micros
        if monthly is not None and (self.member_month(guild, user, moment) + amount > monthly or monthly == 0):
            return "monthly_usd"
        if budget is not None and (self.guild_month(guild, moment) + amount > budget or budget == 0):
            return "guild_budget"
        return None

    def pending_ids(self) -> list[int]:
        return sorted(i for i, r in self.rows.items() if r.status == "pending")

    def finished_ids(self) -> list[int]:
        return sorted(i for i, r in self.rows.items() if r.status != "pending")

    # -- rules ------------------------------------------------------------------------

    @initialize(
        daily=st.none() | st.integers(0, 8),
        monthly=st.none() | st.integers(0, 12).map(lambda n: n * 100_000),
        guild=st.none() | st.integers(0, 20).map(lambda n: n * 100_000),
    )
    def choose_limits(self, daily: int | None, monthly: int | None, guild: int | None) -> None:
        self.limits = Limits(daily, monthly, guild)

    async def _reserve(self, guild: int, user: int, moment: datetime, images: int, price: int) -> int | QuotaExceeded:
        try:
            request = RequestRecord(
                guild_id=guild, channel_id=5, user_id=user, command="imagine", model="m", size=None,
                prompt="p", images=images, unit_price_micros=price,
            )  # fmt: skip
            return await self.storage.ledger.reserve(request, limits=self.limits, now=moment)
        except QuotaExceeded as refused:
            return refused

    def _apply_reservation(
        self, outcome: int | QuotaExceeded, guild: int, user: int, moment: datetime, images: int, price: int
    ) -> None:
        expected = self.expected_refusal(guild, user, moment, images, price)
        if isinstance(outcome, QuotaExceeded):
            assert outcome.kind == expected
            assert outcome.used + outcome.requested > outcome.limit or outcome.limit == 0
            reset = next_utc_midnight(moment) if outcome.kind == "daily_images" else next_utc_month(moment)
            assert outcome.resets_at == reset
            row = Row(guild, user, moment, images, price, status="refused")
            assert outcome.request_id is not None
            self.rows[outcome.request_id] = row
        else:
            assert expected is None
            self.rows[outcome] = Row(guild, user, moment, images, price)

    @rule(
        guild=st.sampled_from(GUILDS),
        user=st.sampled_from(MEMBERS),
        moment=st.sampled_from(MOMENTS),
        images=st.integers(1, 4),
        price=st.sampled_from(PRICES),
    )
    def reserve(self, guild: int, user: int, moment: datetime, images: int, price: int) -> None:
        outcome = self.run(self._reserve(guild, user, moment, images, price))
        self._apply_reservation(outcome, guild, user, moment, images, price)
        self.recovered = False

    @rule(
        burst=st.lists(
            st.tuples(st.sampled_from(GUILDS), st.sampled_from(MEMBERS), st.integers(1, 3)), min_size=2, max_size=12
        ),
        moment=st.sampled_from(MOMENTS),
    )
    def reserve_concurrently(self, burst: list[tuple[int, int, int]], moment: datetime) -> None:
        """gather() starts the reservations in list order; each is one transaction, so the
        model applied in id order must predict every outcome."""

        async def all_at_once() -> list[int | QuotaExceeded]:
            return await asyncio.gather(*(self._reserve(g, u, moment, n, 135_000) for g, u, n in burst))

        outcomes = self.run(all_at_once())
        ordered = sorted(
            zip(outcomes, burst, strict=True),
            key=lambda pair: pair[0].request_id if isinstance(pair[0], QuotaExceeded) else pair[0],
        )
        for outcome, (g, u, n) in ordered:
            self._apply_reservation(outcome, g, u, moment, n, 135_000)
        self.recovered = False

    @precondition(lambda self: self.pending_ids())
    @rule(data=st.data())
    def checkpoint(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(self.pending_ids()))
        row = self.rows[rid]
        if data.draw(st.booleans()):
            row.billed = data.draw(st.integers(0, row.images + OVER))
            self.run(self.storage.ledger.record_billed(rid, row.billed))
        else:
            row.delivered = data.draw(st.integers(0, row.images + OVER))
            self.run(self.storage.ledger.record_delivered(rid, row.delivered))

    @precondition(lambda self: self.pending_ids())
    @rule(data=st.data())
    def settle(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(self.pending_ids()))
        row = self.rows[rid]
        billed = data.draw(st.integers(0, row.images + OVER))  # may exceed the request: clamped
        delivered = data.draw(st.integers(0, row.images + OVER))  # may exceed billed: billed follows
        settlement = self.run(self.storage.ledger.settle(rid, billed=billed, delivered=delivered))
        row.settle(billed, delivered)
        assert settlement == Settlement(row.cost, row.charged, max(0, row.reserved - row.charged))

    @precondition(lambda self: self.pending_ids())
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(self.pending_ids()))
        self.run(self.storage.ledger.release(rid, error_code="gateway_error"))
        self.rows[rid].status = "released"

    @precondition(lambda self: self.finished_ids())
    @rule(data=st.data(), billed=st.integers(0, 4 + OVER), delivered=st.integers(0, 4 + OVER))
    def settle_again_changes_nothing(self, data: st.DataObject, billed: int, delivered: int) -> None:
        rid = data.draw(st.sampled_from(self.finished_ids()))
        row = self.rows[rid]
        settlement = self.run(self.storage.ledger.settle(rid, billed=billed, delivered=delivered))
        expected = {
            "settled": Settlement(row.cost, row.charged, max(0, row.reserved - row.charged)),
            "released": Settlement(0, 0, row.reserved),
            "refused": Settlement(0, 0, 0),
        }[row.status]
        assert settlement == expected

    @rule()
    def crash_and_restart(self) -> None:
        """The process dies with reservations pending; the next start recovers them."""
        self.run(self.storage.close())
        self.storage = self.run(self._open())
        expected = self.pending_ids()
        assert self.run(self.storage.ledger.recover_pending()) == len(expected)
        for rid in expected:
            row = self.rows[rid]
            known = [count for count in (row.billed, row.delivered) if count is not None]
            if not known:
                row.status = "released"
            else:
                row.settle(max(known), row.delivered or 0)
        self.recovered = True

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def database_matches_the_model_and_the_limits_hold(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        db = self.storage.db
        rows = {
            r["id"]: r
            for r in await db.fetchall(
                "SELECT id, status, images_requested, images_billed, images_delivered, reserved_micros, "
                "cost_micros, charged_micros FROM requests"
            )
        }
        assert set(rows) == set(self.rows)
        for rid, model in self.rows.items():
            row = rows[rid]
            assert row["status"] == model.status, rid
            if model.status == "settled":
                assert (row["cost_micros"], row["charged_micros"]) == (model.cost, model.charged)
                assert (row["images_billed"], row["images_delivered"]) == (model.billed, model.delivered)
                # spent <= reservation: nothing past the request is recorded, cost or charge
                assert row["charged_micros"] <= row["cost_micros"] <= row["reserved_micros"]
                assert row["images_billed"] <= row["images_requested"]
                assert row["images_delivered"] <= row["images_requested"]
                assert row["images_delivered"] <= row["images_billed"]  # nothing handed out unbilled
            else:
                assert (row["cost_micros"], row["charged_micros"]) == (0, 0)
        if self.recovered:
            assert not any(r["status"] == "pending" for r in rows.values())

        lim = self.limits
        keys = [(g, u, m) for g in GUILDS for u in MEMBERS for m in MOMENTS]
        usages = await asyncio.gather(*(self.storage.ledger.usage(g, u, m) for g, u, m in keys))
        for (guild, user, moment), usage in zip(keys, usages, strict=True):
            assert usage.images_today == self.images_today(guild, user, moment)
            assert usage.member_month_micros == self.member_month(guild, user, moment)
            assert usage.guild_month_micros == self.guild_month(guild, moment)
            pending = [
                r for r in self.rows.values()
                if r.status == "pending" and (r.guild, r.user) == (guild, user) and same_month(r.moment, moment)
            ]  # held this month: what /usage shows beside this month's spend
            assert usage.pending_images == sum(r.images for r in pending)
            assert usage.pending_micros == sum(r.reserved for r in pending)
            if lim.daily_images is not None:
                assert usage.images_today <= lim.daily_images
            if lim.monthly_micros is not None:
                assert usage.member_month_micros <= lim.monthly_micros
            if lim.guild_monthly_micros is not None:
                assert usage.guild_month_micros <= lim.guild_monthly_micros
        await counters_match_rows(self.storage)


LedgerMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerMachine = LedgerMachine.TestCase
