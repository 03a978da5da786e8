"""/spend (admins: where the money went) and /history (the latest requests and their decisions).

/spend answers with a summary, the ledger rows of the period as CSV and a PNG chart of the
spend per day. A period can be a hundred thousand rows: the figures are SQL sums and the CSV is
streamed to a temporary file, both in a worker thread on a read-only connection of their own
(``storage.reports``), and the chart is drawn in a worker thread; the CSV is gzipped when it
does not fit beside the chart in one message. /history reads the ledger (prompt,
member, cost, status) and the audit log (approval decisions and the moderator who took them),
and, in approval mode, the requests that never got a ledger row (waiting for a moderator,
rejected, or refused before anything was reserved) from storage.approvals.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from cogs.admin_quotas import clip, fit_lines
from cogs.checks import is_moderator, require_admin
from i18n import CATALOGS, locale_of, t
from image_gateway.catalog import cost_not_known
from image_gateway.errors import ACCOUNT_CODES, AUTH_CODES, MODEL_NOT_FOUND_CODES, is_content_filter
from image_gateway.money import format_usd
from pipeline.explain import UserError
from pipeline.report_chart import MAX_SERIES, Label, chart_available, render_chart
from pipeline.report_csv import fit_csv, write_csv
from pipeline.runner import MAX_FILES_BYTES_PER_MESSAGE
from pipeline.spend_report import GroupBy, SpendReport
from pipeline.summary import prompt_preview
from storage.approvals import Approval
from storage.models import from_epoch_ms
from storage.reports import Period, Share, period_bounds
from storage.requests import LedgerRow

if TYPE_CHECKING:
    from bot import SeedreamBot

log = logging.getLogger(__name__)

TOP_MEMBERS = 5
HISTORY_ENTRIES = 10
HISTORY_PROMPT = 80


class Reports(commands.Cog):
    def __init__(self, bot: SeedreamBot) -> None:
        self.bot = bot

    @app_commands.command(name="spend", description="Spend report: summary, CSV of the ledger and a chart")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(
        period="day: today; week: the last 7 days; month: this calendar month (UTC)",
        member="Only this member's requests",
        chart_by="Stack the chart's bars by model or by member",
    )
    async def spend(
        self,
        interaction: discord.Interaction,
        period: Literal["day", "week", "month"] = "month",
        member: discord.User | None = None,  # a member who left the server is still in the books
        chart_by: Literal["model", "member"] = "model",
    ) -> None:
        require_admin(interaction)
        locale = locale_of(interaction)
        guild_id = interaction.guild_id
        assert guild_id is not None
        await interaction.response.defer(thinking=True, ephemeral=True)
        start, end = period_bounds(period)
        user_id = member.id if member is not None else None
        stem = f"spend-{period}-{start.strftime('%Y%m%d')}"
        with tempfile.TemporaryDirectory(prefix="spend-") as folder:
            # The figures from SQL and the CSV streamed to a file, both in a worker thread (the
            # period can be a hundred thousand rows), then the chart: the event loop only waits.
            plain = Path(folder) / f"{stem}.csv"
            figures, _size = await self.bot.storage.reports.spend(
                guild_id, start, end, user_id=user_id, top=MAX_SERIES, export=functools.partial(write_csv, plain)
            )
            report = SpendReport.of(figures, start, end)
            text = self._summary(report, period, member, locale)
            files: list[discord.File] = []
            # Discord refuses a message over 25 MiB in all whatever the server's upload limit
            # (a boosted server's is 50 MiB): the CSV gets what the chart leaves of both.
            room = min(interaction.filesize_limit, MAX_FILES_BYTES_PER_MESSAGE)
            if chart_available():
                labels = await self._labels(report, chart_by, interaction.guild)
                others = (t("spend.others", locale), t("spend.others", "en-US"))  # the latter without a CJK font
                png = await asyncio.to_thread(render_chart, report, chart_by, labels, others)
                files.append(discord.File(io.BytesIO(png), filename=f"{stem}.png"))
                room = min(interaction.filesize_limit, MAX_FILES_BYTES_PER_MESSAGE - len(png))
            else:
                text += "\n" + t("spend.no_chart", locale)
            sent = await asyncio.to_thread(fit_csv, plain, room)
            if sent is None:
                text += "\n" + t("spend.csv_too_large", locale)
            else:
                files.insert(0, discord.File(sent, filename=sent.name))
            try:
                await interaction.followup.send(clip(text), files=files, ephemeral=True)
            finally:
                for file in files:
                    file.close()

    def _cost_unknown(self, model_id: str, cost_micros: int, images_billed: int | None) -> bool:
        return cost_not_known(self.bot.preset.models.get(model_id), cost_micros, images_billed)

    def _model_share(self, share: Share, locale: str) -> str:
        unknown = self._cost_unknown(share.key, share.cost_micros, share.images_billed)
        amount = t("history.cost_unknown", locale) if unknown else format_usd(share.cost_micros)
        return t("spend.share", locale, name=self._model_label(share.key), amount=amount, images=share.images_billed)

    def _model_label(self, model_id: str) -> str:
        spec = self.bot.preset.models.get(model_id)
        return spec.label if spec is not None else model_id

    def _summary(self, report: SpendReport, period: Period, member: discord.abc.User | None, locale: str) -> str:
        last_day = report.days[-1]
        lines = [f"**{t(f'spend.title.{period}', locale, start=report.start.date(), end=last_day)}**"]
        if member is not None:
            lines.append(t("spend.member", locale, member=f"<@{member.id}>"))
        if not report.requests:
            lines.append(t("spend.empty", locale))
            return "\n".join(lines)
        lines.append(t("spend.total", locale, total=format_usd(report.cost_micros),
                       charged=format_usd(report.charged_micros)))
        lines.append(t("spend.images", locale, billed=report.images_billed, delivered=report.images_delivered))
        lines.append(t("spend.requests", locale, count=report.requests,
                       refused=report.statuses.get("refused", 0), released=report.statuses.get("released", 0)))
        if running := report.statuses.get("pending", 0):  # counted in the limits already, not in the total
            if report.held_micros:
                lines.append(t("spend.in_progress", locale, count=running, held=format_usd(report.held_micros)))
            else:  # nothing held: models without a price ("$0.00" would read as free)
                lines.append(t("spend.in_progress_unpriced", locale, count=running))
        if report.by_model:
            lines.append(t("spend.by_model", locale))
            lines += [self._model_share(share, locale) for share in report.by_model]
            if any(self._cost_unknown(share.key, share.cost_micros, share.images_billed) for share in report.by_model):
                lines.append(t("usage.unpriced", locale))  # else "$0.00" reads as free
        if member is None and report.by_member:
            lines.append(t("spend.top_members", locale))
            lines += [_member_share(share, locale) for share in report.by_member[:TOP_MEMBERS]]
        return "\n".join(lines)

    async def _labels(self, report: SpendReport, by: GroupBy, guild: discord.Guild | None) -> dict[str, Label]:
        keys = list(report.daily(by))  # the chart's own series, at most MAX_SERIES
        if by == "model":
            return {key: self._model_label(key) for key in keys}
        return {key: await self._member_name(int(key), guild) for key in keys}

    async def _member_name(self, user_id: int, guild: discord.Guild | None) -> Label:
        person = (guild.get_member(user_id) if guild else None) or self.bot.get_user(user_id)
        if person is None:
            try:
                person = await self.bot.fetch_user(user_id)
            except discord.HTTPException:
                return str(user_id)
        # A name the chart cannot draw (Chinese, without a CJK font on this machine) would be
        # empty boxes: the account's username (letters, digits, _ and .) is drawn instead.
        return (person.display_name, person.name)

    @app_commands.command(name="history", description="The latest requests: yours, or anyone's for moderators")
    @app_commands.guild_only()
    @app_commands.describe(member="Whose requests (moderators only for other members)")
    async def history(self, interaction: discord.Interaction, member: discord.User | None = None) -> None:
        locale = locale_of(interaction)
        guild_id = interaction.guild_id
        if guild_id is None:
            raise UserError("error.guild_only", code="guild_only")
        moderator = is_moderator(interaction)
        if member is not None and member.id != interaction.user.id and not moderator:
            raise UserError("history.only_own", code="not_moderator")
        if member is None and not moderator:
            member = interaction.user  # type: ignore[assignment]
        user_id = member.id if member is not None else None
        # Acknowledged before anything is read: a slow read must not miss Discord's 3 seconds.
        await interaction.response.defer(thinking=True, ephemeral=True)
        rows = await self.bot.storage.reports.latest(guild_id, user_id=user_id, limit=HISTORY_ENTRIES)
        audit = await self.bot.storage.audit.for_requests(row.id for row in rows)
        approvals = await self.bot.storage.approvals.latest_without_request(
            guild_id, user_id=user_id, limit=HISTORY_ENTRIES
        )  # waiting for a moderator, rejected, or refused before a ledger row: newest first like `rows`
        entries: list[LedgerRow | Approval] = sorted(
            [*rows, *approvals], key=_created, reverse=True
        )[:HISTORY_ENTRIES]
        if member is not None:
            head = [f"**{t('history.title_member', locale, member=f'<@{member.id}>')}**"]
        else:
            head = [f"**{t('history.title_server', locale)}**"]
        if not entries:
            head.append(t("history.empty", locale))
        items = []  # each entry with its decisions, kept whole: listed while they fit, the rest counted
        for row in entries:
            if isinstance(row, Approval):
                items.append([self._approval_line(row, locale)])
                continue
            items.append([self._history_line(row, locale), *(
                t("history.decision", locale, action=_in_words("action", entry.action, locale),
                  actor=f"<@{entry.actor_id}>", when=f"<t:{int(entry.created_at.timestamp())}:R>")
                for entry in audit.get(row.id, [])
            )])  # fmt: skip
        text = fit_lines(head, items, [], lambda count: t("history.more", locale, count=count))
        await interaction.followup.send(text, ephemeral=True)

    def _approval_line(self, approval: Approval, locale: str) -> str:
        """A request that never reached the ledger, with the moderator's decision (or none yet)."""
        record = approval.job
        decided = approval.decided_at // 1000 if approval.decided_at is not None else None
        # failed before any moderator saw it: its review message could not be posted
        state = "unposted" if approval.status == "failed" and approval.decided_by is None else approval.status
        status = t(f"history.approval.{state}", locale, moderator=f"<@{approval.decided_by}>",
                   when=f"<t:{decided}:R>")
        return t("history.approval_line", locale, id=approval.id, when=f"<t:{approval.created_at // 1000}:f>",
                 member=f"<@{approval.user_id}>", model=self._model_label(record["model"]), count=record["count"],
                 status=status, prompt=_short(record["prompt"]))

    def _history_line(self, row: LedgerRow, locale: str) -> str:
        status = t(f"history.status.{row.status}", locale, delivered=row.images_delivered or 0,
                   requested=row.images_requested, reason=_reason_in_words(row.error_code, locale))
        return t("history.line", locale, id=row.id, when=f"<t:{int(row.created_at.timestamp())}:f>",
                 member=f"<@{row.user_id}>", status=status, model=self._model_label(row.model),
                 cost=self._cost_in_words(row, locale), prompt=_short(row.prompt))

    def _cost_in_words(self, row: LedgerRow, locale: str) -> str:
        """`cost_in_words`, or "cost not known" for images of a model without a price (the books
        count them $0, which is not what they cost)."""
        if self._cost_unknown(row.model, row.cost_micros, row.images_billed):
            return t("history.cost_unknown", locale)
        return cost_in_words(row, locale)


def cost_in_words(row: LedgerRow, locale: str) -> str:
    """What the request cost the server, and what the member paid when that was less (images the
    gateway billed that never reached them are the server's cost, not the member's); while it runs,
    what it holds against the member's limit and the server's budget, as /usage counts it."""
    if row.status == "pending":
        return t("history.cost_held", locale, held=format_usd(row.reserved_micros))
    cost = format_usd(row.cost_micros)
    if row.charged_micros == row.cost_micros:
        return cost
    return t("history.cost_split", locale, cost=cost, charged=format_usd(row.charged_micros))


def _in_words(kind: str, value: str | None, locale: str) -> str:
    """A stored code in the reader's words: a decision ("approved", "已批准") for `kind` "action",
    why a request ended unfulfilled for "reason"; a code without a text as stored."""
    key = f"history.{kind}.{value}"
    return t(key, locale) if key in CATALOGS["en"] else (value or "—")


# Stored codes that name a reason worded in the catalogue: the gateway's own codes (SEEDREAM-API.md's
# 429 and 5xx rows), or the error's class when the gateway gave no code.
_REASONS = {
    "APITimeoutError": "timeout",
    "GatewayTimeout": "timeout",  # a proxy's 504/524 (pipeline.runner._error_code)
    "RateLimitError": "busy",
    "InternalServerError": "busy",
    "RateLimitExceeded": "busy",
    "ModelAccountIpmRateLimitExceeded": "busy",
    "QuotaExceeded": "busy",
    "ServerOverloaded": "busy",
    "InternalServiceError": "busy",
    "APIConnectionError": "unreachable",
    "InvalidResponseError": "bad_answer",
    "AuthenticationError": "setup",
    "PermissionDeniedError": "setup",
    "NotFoundError": "setup",
    # the codes the gateways document for a refused key, an account in debt, an unknown model
    **dict.fromkeys(AUTH_CODES | ACCOUNT_CODES | MODEL_NOT_FOUND_CODES, "setup"),
}


def _reason_in_words(code: str | None, locale: str) -> str:
    """Why a request ended unfulfilled, in the reader's words. A code no sentence covers (another
    gateway's own) is shown after a worded "the service failed", as stored: it is what an admin
    would quote to the gateway."""
    if code is None:
        return "—"
    reason = "content_filter" if is_content_filter(code) else _REASONS.get(code, code)
    if f"history.reason.{reason}" in CATALOGS["en"]:
        return _in_words("reason", reason, locale)
    return t("history.reason.other", locale, code=code)


def _short(prompt: str) -> str:
    return prompt_preview(prompt, HISTORY_PROMPT)


def _created(entry: LedgerRow | Approval) -> datetime:
    return from_epoch_ms(entry.created_at) if isinstance(entry, Approval) else entry.created_at


def _member_share(share: Share, locale: str) -> str:
    """A member's line of /spend: the server's cost, and what the member was charged when it is
    less (images billed that never reached them), as /usage and /history tell it."""
    if share.charged_micros == share.cost_micros:
        return t("spend.share", locale, name=f"<@{share.key}>", amount=format_usd(share.cost_micros),
                 images=share.images_billed)  # fmt: skip
    return t("spend.share_charged", locale, name=f"<@{share.key}>", amount=format_usd(share.cost_micros),
             images=share.images_billed, charged=format_usd(share.charged_micros))  # fmt: skip


async def setup(bot: SeedreamBot) -> None:
    await bot.add_cog(Reports(bot))


