"""The budget warning: once a settlement takes a server's month spend to the share an admin
chose with /budget (e.g. 80%), or the budget refuses a request with less than the cheapest
model's price left (the share may then never be reached), post one message in the chosen channel - once per
month and threshold, even when several settlements cross it at the same time
(`QuotaStore.claim_warning`).

The month spend is what settled requests cost (/spend's figure). Money only held for requests
in progress is not spent yet: it may come back, and a warning claimed on it would be the
month's one, said too early and with the wrong amount.
"""

from __future__ import annotations

import logging
from datetime import datetime

import discord

from i18n import t
from image_gateway.money import format_usd
from storage.ledger import QuotaExceeded, Settlement
from storage.models import next_utc_month, utc_now
from storage.quotas import Budget, QuotaStore
from storage.reports import ReportQueries, period_bounds

log = logging.getLogger(__name__)


class BudgetAlerts:
    def __init__(
        self, client: discord.Client, reports: ReportQueries, quotas: QuotaStore, *, cheapest_image: int = 0
    ) -> None:
        self.client = client
        self.reports = reports
        self.quotas = quotas
        self.cheapest_image = cheapest_image  # micro-dollars: the gateway's cheapest model's price

    async def after_settle(self, ticket, settlement: Settlement) -> None:
        """A `Pipeline` settled hook."""
        if settlement.cost_micros == 0:
            return
        # the month the request's cost counts in, even if it has ended
        await self.check(ticket.job.guild_id, ticket.reserved_at or utc_now())

    async def after_refusal(self, job, refusal: QuotaExceeded, moment: datetime) -> None:
        """A `Pipeline` refused hook: the server's budget refused a request and what the month
        has spent leaves less than one image of the cheapest model. Spend may then never reach the
        threshold (a $1.00 budget at $0.162 an image stops at $0.972, 97%): the warning is given
        now instead, once, as the threshold's would be. Money only held for requests in progress
        does not count, nor does a dearer model's price (a cheaper image may still fit)."""
        if refusal.kind == "guild_budget" and refusal.limit > 0:
            await self.check(job.guild_id, moment, one_image=self.cheapest_image)

    async def check(self, guild_id: int, moment: datetime, *, one_image: int | None = None) -> None:
        """Warn if the settled spend of `moment`'s month has reached the share set with /budget:
        after a settlement, and at start for what the books closed then (a crash's requests);
        with `one_image` (a price), also if less than that is left of the budget."""
        budget = await self.quotas.budget(guild_id)
        if budget is None or budget.warn_percent is None or budget.warn_channel_id is None:
            return
        month_start, _ = period_bounds("month", moment)
        spent = await self.reports.settled_cost(guild_id, month_start, next_utc_month(moment))
        reached = spent * 100 >= budget.monthly_micros * budget.warn_percent
        if not reached and (one_image is None or spent + one_image <= budget.monthly_micros):
            return
        month = moment.strftime("%Y-%m")
        if not await self.quotas.claim_warning(guild_id, month, budget.warn_percent):
            return
        try:
            await self._post(guild_id, budget, spent, month, key="budget.warning" if reached else "budget.exhausted")
        except BaseException as error:
            # Not posted: the claim goes back, or the month would pass without a warning even once
            # the channel is fixed; the next settlement tries again.
            await self.quotas.unclaim_warning(guild_id, month, budget.warn_percent)
            if not isinstance(error, discord.Forbidden | discord.NotFound | TypeError):
                raise
            # The channel is gone or closed to the bot (/budget set refuses such a channel, but
            # that can change after): a line for the operator, not a traceback.
            log.warning("guild %s: the budget warning cannot be posted in channel %s (%s); give the bot "
                        "access there or set the budget with another channel", guild_id,
                        budget.warn_channel_id, type(error).__name__)  # fmt: skip

    async def _post(self, guild_id: int, budget: Budget, spent: int, month: str, *, key: str) -> None:
        channel = self.client.get_channel(budget.warn_channel_id)
        if channel is None:
            channel = await self.client.fetch_channel(budget.warn_channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"guild {guild_id}: the budget warning channel cannot take messages")
        guild = getattr(channel, "guild", None)
        locale = guild.preferred_locale if guild is not None else None
        await channel.send(
            t(
                key,
                locale,
                percent=budget.warn_percent,
                spent=format_usd(spent),
                budget=format_usd(budget.monthly_micros),
                # a late settlement may cross the threshold of a month that has ended
                month=t("budget.month", locale, year=month[:4], month=int(month[5:])),
            )
        )
        log.info("guild %s: budget warning at %d%% posted", guild_id, budget.warn_percent)
