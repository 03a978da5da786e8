"""/quota and /budget: who may spend how much, set from Discord by the people who pay.

Both groups need Manage Server. Discord's default permissions hide them from others, but a
server owner can change those, so every handler checks again (`require_admin`). Settings
and their audit entries are written by `storage.quotas`; the precedence is `pipeline.limits`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from cogs.checks import require_admin
from i18n import locale_of, t
from image_gateway.money import MAX_USD, AmountTooLarge, FinerThanMicros, format_usd, read_usd
from pipeline.explain import MAX_MESSAGE, UserError
from pipeline.limits import Explanation, Resolved, explain_limits
from pipeline.permissions import bot_can_say
from storage.quotas import Budget, QuotaRule, TargetKind
from storage.reports import period_bounds

if TYPE_CHECKING:
    from bot import SeedreamBot

ADMIN = discord.Permissions(manage_guild=True)
OFF_WORDS = frozenset({"off", "none", "clear", "remove", "关", "关闭", "无", "取消"})  # 关闭 (关): the bot's own "off"
MAX_LISTED_RULES = 25
DEFAULT_WARN_PERCENT = 80


def is_off(text: str) -> bool:
    """`off`, `none`, `关`...: the setting removed ("ｏｆｆ" too, as amounts are read)."""
    return unicodedata.normalize("NFKC", text).strip().casefold() in OFF_WORDS


def parse_usd(text: str, *, not_amount: str = "error.bad_amount") -> int:
    """A member-typed amount (`read_usd`) in micro-dollars; refused in the member's words.

    Exact to the micro-dollar, as prices are: a limit rounded to what the books keep would not
    be the one typed ("5.9999999" saved as $6.00)."""
    shown = text.strip()[:20]
    try:
        return read_usd(text, exact=True)
    except AmountTooLarge:
        raise UserError("error.amount_too_large", code="bad_amount", value=shown, limit=f"${MAX_USD:,}") from None
    except FinerThanMicros:
        raise UserError("error.amount_too_fine", code="bad_amount", value=shown) from None
    except (ValueError, TypeError):
        raise UserError(not_amount, code="bad_amount", value=shown) from None


def target_text(kind: TargetKind, target_id: int, guild_id: int) -> str:
    if kind == "member":
        return f"<@{target_id}>"
    return "@everyone" if target_id == guild_id else f"<@&{target_id}>"


def role_gone(guild: discord.Guild | None, rule: QuotaRule) -> bool:
    """A role rule whose role the bot knows was deleted (a server not cached: not known gone)."""
    if rule.kind != "role" or guild is None or rule.target_id == guild.id:
        return False
    return guild.get_role(rule.target_id) is None


def rule_text(rule: QuotaRule | None, locale: str) -> str:
    if rule is None:
        return t("quota.nothing", locale)
    parts = []
    if rule.daily_images is not None:
        parts.append(t("quota.daily", locale, count=rule.daily_images))
    if rule.monthly_micros is not None:
        parts.append(t("quota.monthly", locale, amount=format_usd(rule.monthly_micros)))
    if rule.exempt:
        parts.append(t("quota.exempt_flag", locale))
    return t("result.quota_separator", locale).join(parts) or t("quota.nothing", locale)


def value_text(resolved: Resolved, locale: str, *, money: bool) -> str:
    if resolved.value is None:
        return t("quota.unlimited", locale)
    return format_usd(resolved.value) if money else t("quota.daily", locale, count=resolved.value)


def source_text(resolved: Resolved, locale: str) -> str:
    role = f"<@&{resolved.role_id}>" if resolved.role_id is not None else ""
    return t(f"quota.source.{resolved.source}", locale, role=role)


def explanation_lines(explained: Explanation, locale: str) -> list[str]:
    daily, monthly, budget = explained.daily_images, explained.monthly_micros, explained.guild_budget
    return [
        t("quota.show.daily", locale, value=value_text(daily, locale, money=False), source=source_text(daily, locale)),
        t("quota.show.monthly", locale, value=value_text(monthly, locale, money=True),
          source=source_text(monthly, locale)),
        t("quota.show.budget", locale, value=value_text(budget, locale, money=True),
          source=t(f"budget.source.{budget.source}", locale)),
    ]


def _role_ids(member: discord.abc.User) -> tuple[int, ...]:
    return tuple(role.id for role in getattr(member, "roles", ()))


def _one_target(member: discord.abc.User | None, role: discord.Role | None) -> tuple[TargetKind, int]:
    if (member is None) == (role is None):
        raise UserError("quota.need_target", code="bad_option")
    if member is not None:
        return "member", member.id
    assert role is not None
    return "role", role.id


class AdminQuotas(commands.Cog):
    quota = app_commands.Group(
        name="quota", description="Image quotas of members and roles", guild_only=True, default_permissions=ADMIN
    )
    budget = app_commands.Group(
        name="budget", description="The server's monthly image budget", guild_only=True, default_permissions=ADMIN
    )

    def __init__(self, bot: SeedreamBot) -> None:
        self.bot = bot

    # -- /quota --------------------------------------------------------------------------
    @quota.command(name="set", description="Set or clear a member's or a role's daily images and monthly USD limit")
    @app_commands.describe(
        member="The member (or choose a role)",
        role="The role (@everyone: the server's default)",
        daily_images="Images per UTC day; 0 blocks",
        monthly_usd="US dollars per calendar month, e.g. 5 or 12.50",
        clear="Remove a setting instead (the next level then applies)",
    )
    async def quota_set(
        self,
        interaction: discord.Interaction,
        member: discord.Member | None = None,
        role: discord.Role | None = None,
        daily_images: app_commands.Range[int, 0, 1_000_000] | None = None,
        monthly_usd: app_commands.Range[str, 1, 20] | None = None,
        clear: Literal["daily_images", "monthly_usd", "both"] | None = None,
    ) -> None:
        require_admin(interaction)
        locale = locale_of(interaction)
        kind, target_id = _one_target(member, role)
        if clear is not None and (daily_images is not None or monthly_usd is not None):
            raise UserError("quota.clear_with_values", code="bad_option")
        if clear is None and daily_images is None and monthly_usd is None:
            raise UserError("quota.need_value", code="bad_option")
        # "off" removes the monthly setting, as it removes /budget's; any other word is refused
        # naming the `clear` option (and exempt roles, for no limit at all)
        off = monthly_usd is not None and is_off(monthly_usd)
        micros = parse_usd(monthly_usd, not_amount="quota.bad_amount") if monthly_usd is not None and not off else None

        def change(rule: QuotaRule) -> QuotaRule:
            daily, monthly = rule.daily_images, rule.monthly_micros
            if clear in ("daily_images", "both"):
                daily = None
            if clear in ("monthly_usd", "both") or off:
                monthly = None
            if daily_images is not None:
                daily = daily_images
            if micros is not None:
                monthly = micros
            return QuotaRule(kind, target_id, daily, monthly, rule.exempt)

        assert interaction.guild_id is not None
        old, new = await self.bot.storage.quotas.update_rule(
            interaction.guild_id, kind, target_id, change, actor_id=interaction.user.id
        )
        await interaction.response.send_message(
            t("quota.saved", locale, target=target_text(kind, target_id, interaction.guild_id),
              new=rule_text(new, locale), old=rule_text(old, locale)),
            ephemeral=True,
        )

    @quota.command(name="exempt", description="Make a role exempt from quotas (unlimited), or end that")
    @app_commands.describe(role="The role", exempt="True: unlimited; False: its quotas apply again")
    async def quota_exempt(self, interaction: discord.Interaction, role: discord.Role, exempt: bool = True) -> None:
        require_admin(interaction)
        locale = locale_of(interaction)
        assert interaction.guild_id is not None
        old, _new = await self.bot.storage.quotas.update_rule(
            interaction.guild_id, "role", role.id,
            lambda rule: QuotaRule("role", role.id, rule.daily_images, rule.monthly_micros, exempt),
            actor_id=interaction.user.id, action="quota.exempt",
        )
        was_exempt = old is not None and old.exempt
        if was_exempt == exempt:  # nothing changed: not said as if it had
            key = "quota.exempt_already" if exempt else "quota.exempt_not_exempt"
        else:
            key = "quota.exempt_saved" if exempt else "quota.exempt_removed"
        await interaction.response.send_message(
            t(key, locale, target=target_text("role", role.id, interaction.guild_id)), ephemeral=True
        )

    @quota.command(name="show", description="The effective quotas of a member, a role's settings, or all settings")
    @app_commands.describe(member="Whose effective quotas to explain", role="Which role's settings to show")
    async def quota_show(
        self, interaction: discord.Interaction, member: discord.User | None = None, role: discord.Role | None = None
    ) -> None:
        require_admin(interaction)
        locale = locale_of(interaction)
        guild_id = interaction.guild_id
        assert guild_id is not None
        if member is not None and role is not None:
            raise UserError("quota.need_target", code="bad_option")
        precedence = [t("quota.precedence", locale)]
        if member is not None:  # its role rules listed while they fit, the rest counted
            lines, roles = await self._member_lines(guild_id, member, locale)
            text = fit_lines(lines, roles, precedence, lambda count: t("quota.show.more", locale, count=count))
        elif role is not None:
            rule = await self.bot.storage.quotas.rule(guild_id, "role", role.id)
            lines = [
                f"**{t('quota.show.title_role', locale, target=target_text('role', role.id, guild_id))}**",
                rule_text(rule, locale),
            ]
            if role.id == guild_id:
                lines.append(t("quota.show.everyone_note", locale))
            text = clip("\n".join([*lines, *precedence]))
        else:
            text = clip("\n".join([*await self._server_lines(guild_id, locale), *precedence]))
        await interaction.response.send_message(text, ephemeral=True)

    async def _member_lines(
        self, guild_id: int, member: discord.abc.User, locale: str
    ) -> tuple[list[str], list[list[str]]]:
        """The member's limits and where they come from, and one item per role rule."""
        roles = _role_ids(member)
        rules = await self.bot.storage.quotas.rules_for(guild_id, member.id, roles)
        explained = explain_limits(rules, self.bot.limits_resolver.defaults)
        lines = [f"**{t('quota.show.title_member', locale, target=target_text('member', member.id, guild_id))}**"]
        lines += explanation_lines(explained, locale)
        lines.append(t("quota.show.own", locale, value=rule_text(rules.member, locale)))
        roles = [
            [t("quota.show.rule", locale, target=target_text("role", rule.target_id, guild_id),
               rule=rule_text(rule, locale))]
            for rule in rules.roles
        ]
        return lines, roles

    async def _server_lines(self, guild_id: int, locale: str) -> list[str]:
        defaults = self.bot.limits_resolver.defaults
        unlimited = t("quota.unlimited", locale)
        daily = defaults.daily_images
        lines = [
            f"**{t('quota.show.title_server', locale)}**",
            t("quota.show.defaults", locale, daily=unlimited if daily is None else daily,
              monthly=unlimited if defaults.monthly_micros is None else format_usd(defaults.monthly_micros)),
        ]
        rules = await self.bot.storage.quotas.all_rules(guild_id)
        guild = self.bot.get_guild(guild_id)
        if gone := [rule for rule in rules if role_gone(guild, rule)]:  # deleted while the bot was away
            for rule in gone:
                await self._drop_role_rule(guild_id, rule.target_id)
            rules = [rule for rule in rules if rule not in gone]
            lines.append(t("quota.show.deleted_roles", locale, count=len(gone)))
        if not rules:
            lines.append(t("quota.show.none", locale))
        for rule in rules[:MAX_LISTED_RULES]:
            lines.append(t("quota.show.rule", locale, target=target_text(rule.kind, rule.target_id, guild_id),
                           rule=rule_text(rule, locale)))
        if len(rules) > MAX_LISTED_RULES:
            lines.append(t("quota.show.more", locale, count=len(rules) - MAX_LISTED_RULES))
        return lines

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        """A deleted role's quota settings go with it: nobody can have it any more, and a deleted
        role cannot be picked in /quota set to clear them."""
        await self._drop_role_rule(role.guild.id, role.id)

    async def _drop_role_rule(self, guild_id: int, role_id: int) -> None:
        actor = self.bot.user.id if self.bot.user else 0  # audited as the bot's doing
        await self.bot.storage.quotas.update_rule(
            guild_id, "role", role_id, lambda _rule: QuotaRule("role", role_id), actor_id=actor,
            action="quota.role_deleted",
        )

    # -- /budget -------------------------------------------------------------------------
    @budget.command(name="set", description="Set the server's monthly budget, and optionally a warning")
    @app_commands.describe(
        amount='US dollars per calendar month, e.g. 100, or "off" to remove the setting',
        warn_percent="Warn when this share of the budget is spent (0: no warning)",
        warn_channel="Where the warning goes (default: the moderators' approval channel, else this one)",
    )
    async def budget_set(
        self,
        interaction: discord.Interaction,
        amount: app_commands.Range[str, 1, 20],
        warn_percent: app_commands.Range[int, 0, 100] | None = None,
        warn_channel: discord.TextChannel | None = None,
    ) -> None:
        require_admin(interaction)
        locale = locale_of(interaction)
        guild_id = interaction.guild_id
        assert guild_id is not None
        quotas = self.bot.storage.quotas
        if is_off(amount):
            if warn_percent or warn_channel is not None:
                raise UserError("budget.warn_without_amount", code="bad_option")
            await quotas.set_budget(guild_id, None, actor_id=interaction.user.id)
            fallback = self.bot.limits_resolver.defaults.guild_monthly_micros
            text = t("budget.removed", locale,
                     fallback=t("quota.unlimited", locale) if fallback is None else format_usd(fallback))
            await interaction.response.send_message(text, ephemeral=True)
            return
        micros = parse_usd(amount)
        moderators = self.bot.storage.guild_config.get(guild_id).approval_channel_id

        def change(current: Budget | None) -> Budget:
            """Built on the budget as stored in the same transaction: an amount-only change made at
            the moment another admin sets a warning keeps that warning."""
            percent, channel_id = (current.warn_percent, current.warn_channel_id) if current else (None, None)
            if warn_percent is None and warn_channel is None:
                return Budget(micros, percent, channel_id)
            percent = warn_percent if warn_percent is not None else (percent or DEFAULT_WARN_PERCENT)
            channel_id = warn_channel.id if warn_channel is not None else (
                channel_id or moderators or interaction.channel_id
            )  # the moderators' channel (approval mode's) when there is one
            if not percent:  # 0: no warning
                return Budget(micros)
            guild = interaction.guild
            if guild is None or not bot_can_say(guild.get_channel_or_thread(channel_id)):
                # a warning set or moved there would never arrive, and nobody would know
                raise UserError("budget.warn_cannot_post", code="warn_cannot_post", channel=f"<#{channel_id}>")
            return Budget(micros, percent, channel_id)

        old, new = await quotas.update_budget(guild_id, change, actor_id=interaction.user.id)
        lines = [t("budget.saved", locale, amount=format_usd(micros),
                   old=t("quota.nothing", locale) if old is None else format_usd(old.monthly_micros))]
        lines.append(self._warn_text(guild_id, new, locale))
        await interaction.response.send_message("\n".join(lines), ephemeral=True)
        # A budget set at or below what the month has spent already: no settlement may ever come
        # (every request is refused now) to post its warning, so it is checked here.
        await self.bot.budget_alerts.check(guild_id, self.bot.storage.ledger.now())

    @budget.command(name="show", description="The server's monthly budget, this month's spend and recent changes")
    async def budget_show(self, interaction: discord.Interaction) -> None:
        require_admin(interaction)
        locale = locale_of(interaction)
        guild_id = interaction.guild_id
        assert guild_id is not None
        budget = await self.bot.limits_resolver.guild_budget(guild_id)
        spent = (await self.bot.storage.ledger.usage(guild_id, interaction.user.id)).guild_month_micros
        lines = [
            f"**{t('budget.show.title', locale)}**",
            t("quota.show.budget", locale, value=value_text(budget, locale, money=True),
              source=t(f"budget.source.{budget.source}", locale)),
        ]
        if budget.value is None:
            lines.append(t("budget.show.spent", locale, spent=format_usd(spent)))
        else:
            lines.append(t("budget.show.spent_of", locale, spent=format_usd(spent),
                           left=format_usd(max(budget.value - spent, 0))))
        reserved = await self.bot.storage.reports.reserved(guild_id, *period_bounds("month"))
        if reserved:  # counted by the budget already; /spend shows it once settled
            lines.append(t("spend.reserved", locale, amount=format_usd(reserved)))
        stored = await self.bot.storage.quotas.budget(guild_id)
        lines.append(self._warn_text(guild_id, stored, locale))
        changes = await self.bot.storage.audit.recent(guild_id, limit=5, action_prefix="budget.")
        if changes:
            lines.append(t("budget.show.changes", locale))
            for entry in changes:
                lines.append(t("audit.line", locale, when=f"<t:{int(entry.created_at.timestamp())}:f>",
                               actor=f"<@{entry.actor_id}>", old=_budget_in_words(entry.old, locale),
                               new=_budget_in_words(entry.new, locale)))
        await interaction.response.send_message(clip("\n".join(lines)), ephemeral=True)

    def _warn_text(self, guild_id: int, budget: Budget | None, locale: str) -> str:
        if budget is None or budget.warn_percent is None or budget.warn_channel_id is None:
            return t("budget.no_warning", locale)
        guild = self.bot.get_guild(guild_id)
        if guild is not None and guild.get_channel_or_thread(budget.warn_channel_id) is None:
            # deleted since it was chosen: no warning can arrive there (not cached: not known gone)
            return t("budget.warning_channel_gone", locale, percent=budget.warn_percent)
        return t("budget.warning_at", locale, percent=budget.warn_percent, channel=f"<#{budget.warn_channel_id}>")


_DESCRIBED_BUDGET = re.compile(
    r"monthly_usd=(?P<amount>\$[\d,.]+)(?:, warn_at=(?P<percent>\d+)% in channel:(?P<channel>\d+))?"
)


def _budget_in_words(described: str | None, locale: str) -> str:
    """A budget as the audit log keeps it (`Budget.describe`: locale-neutral) in the reader's words."""
    if described is None:
        return t("budget.change.none", locale)
    found = _DESCRIBED_BUDGET.fullmatch(described)
    if found is None:
        return described  # not a form this version writes: shown as stored
    if found["percent"] is None:
        return t("budget.change.amount", locale, amount=found["amount"])
    return t("budget.change.amount_warn", locale, amount=found["amount"], percent=found["percent"],
             channel=f"<#{found['channel']}>")


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """Discord's message limit; longer lists are cut, never refused."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_lines(
    head: Sequence[str], items: Sequence[Sequence[str]], tail: Sequence[str], more: Callable[[int], str],
    limit: int = MAX_MESSAGE,
) -> str:
    """`head`, then as many whole `items` (each its lines) as fit before `tail` within `limit`,
    saying how many were left out (`more(n)`): no entry cut in the middle, none dropped unsaid."""
    def size(lines: Sequence[str]) -> int:
        return sum(len(line) + 1 for line in lines)

    budget = limit - size(head) - size(tail) - len(more(len(items))) - 1
    kept: list[str] = []
    count = 0
    for item in items:
        if size(item) > budget:
            break
        kept += item
        budget -= size(item)
        count += 1
    left = [more(len(items) - count)] if count < len(items) else []
    return clip("\n".join([*head, *kept, *left, *tail]), limit)


async def setup(bot: SeedreamBot) -> None:
    await bot.add_cog(AdminQuotas(bot))
