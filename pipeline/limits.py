"""Which limits apply to a member, and why (the resolver behind `bot.limits_for` and /quota show).

Precedence, for the daily image quota and the monthly USD limit separately:

1. the member's own setting;
2. else the member's roles: an exempt role makes it unlimited, otherwise the most generous
   role that sets a value (no limit beats any limit; a higher limit beats a lower one);
3. else the server's default (a rule on the @everyone role);
4. else the bot's `.env` defaults (DEFAULT_DAILY_IMAGES / DEFAULT_MONTHLY_USD).

The server budget is the one set with /budget, else GUILD_MONTHLY_BUDGET_USD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.job import ImageJob
from storage.models import Limits
from storage.quotas import Budget, MemberRules, QuotaRule, QuotaStore

Source = Literal["member", "role", "exempt", "server", "default"]
Dimension = Literal["daily_images", "monthly_micros"]


@dataclass(frozen=True)
class Resolved:
    value: int | None  # None: unlimited
    source: Source  # where the value comes from
    role_id: int | None = None  # for "role" and "exempt"


@dataclass(frozen=True)
class Explanation:
    daily_images: Resolved
    monthly_micros: Resolved
    guild_budget: Resolved  # source "server" (set with /budget) or "default" (.env)

    @property
    def limits(self) -> Limits:
        return Limits(self.daily_images.value, self.monthly_micros.value, self.guild_budget.value)


def _generosity(value: int | None) -> float:
    return float("inf") if value is None else value


def _from_roles(roles: Sequence[QuotaRule], dimension: Dimension) -> Resolved | None:
    exempt = [r for r in roles if r.exempt]
    if exempt:
        return Resolved(None, "exempt", min(r.target_id for r in exempt))
    setting = [r for r in roles if getattr(r, dimension) is not None]
    if not setting:
        return None
    best = max(setting, key=lambda r: (_generosity(getattr(r, dimension)), -r.target_id))
    return Resolved(getattr(best, dimension), "role", best.target_id)


def _resolve(rules: MemberRules, dimension: Dimension, default: int | None) -> Resolved:
    if rules.member is not None and getattr(rules.member, dimension) is not None:
        return Resolved(getattr(rules.member, dimension), "member")
    from_roles = _from_roles(rules.roles, dimension)
    if from_roles is not None:
        return from_roles
    if rules.server is not None and rules.server.exempt:
        return Resolved(None, "server")
    if rules.server is not None and getattr(rules.server, dimension) is not None:
        return Resolved(getattr(rules.server, dimension), "server")
    return Resolved(default, "default")


def budget_of(budget: Budget | None, defaults: Limits) -> Resolved:
    """The server's budget: set with /budget, else GUILD_MONTHLY_BUDGET_USD."""
    if budget is not None:
        return Resolved(budget.monthly_micros, "server")
    return Resolved(defaults.guild_monthly_micros, "default")


def explain_limits(rules: MemberRules, defaults: Limits) -> Explanation:
    """The effective limits of one member and where each comes from (pure; no I/O)."""
    return Explanation(
        daily_images=_resolve(rules, "daily_images", defaults.daily_images),
        monthly_micros=_resolve(rules, "monthly_micros", defaults.monthly_micros),
        guild_budget=budget_of(rules.budget, defaults),
    )


class LimitsResolver:
    """Reads a member's rules from the database and applies the precedence above."""

    def __init__(self, quotas: QuotaStore, defaults: Limits) -> None:
        self.quotas = quotas
        self.defaults = defaults  # from .env

    async def explain(self, guild_id: int, user_id: int, role_ids: Sequence[int]) -> Explanation:
        rules = await self.quotas.rules_for(guild_id, user_id, role_ids)
        return explain_limits(rules, self.defaults)

    def revision(self) -> int:
        """Moves whenever a rule or budget is written: limits read before are stale."""
        return self.quotas.revision

    async def for_job(self, job: ImageJob) -> Limits:
        return (await self.explain(job.guild_id, job.user_id, job.role_ids)).limits

    async def guild_budget(self, guild_id: int) -> Resolved:
        return budget_of(await self.quotas.budget(guild_id), self.defaults)
