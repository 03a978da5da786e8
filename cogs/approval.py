"""Approval mode: a request waits in the moderators' channel until a moderator decides.

`submit_for_approval` (called by `bot.generate` when the server has approval mode on) checks
the request like any other (options, channel, role, blocked terms) but reserves nothing: it
stores the request and posts it to the moderators' channel with Approve and Reject buttons.
The buttons are `DynamicItem`s whose custom_id carries the approval id, so they work after a
restart. Approving runs the request through the same line as a command (claim -> admit ->
queue -> execute, `bot.generate_in_channel`) and posts the images in the channel where the
member asked; rejecting tells the member. Whoever presses first decides; a second press is
told it was already decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord.ext import commands

from cogs.checks import require_moderator
from i18n import locale_of, t
from image_gateway.catalog import InvalidOptionError, format_usd
from pipeline.delivery import DISCORD_ERRORS, report_error
from pipeline.explain import MAX_MESSAGE, UserError, explain, is_expected
from pipeline.job import ImageJob
from pipeline.markdown import as_typed
from pipeline.permissions import PostableChannel, bot_can_post, bot_can_review, can_post_in
from pipeline.references import load_references
from pipeline.runner import MAX_FILES_BYTES_PER_MESSAGE, Ticket
from pipeline.summary import prompt_preview
from storage.approvals import Approval
from storage.errors import QuotaExceeded

if TYPE_CHECKING:
    from bot import SeedreamBot

log = logging.getLogger(__name__)

Action = Literal["approve", "reject"]
MAX_ATTACHED_REFERENCES = 10
ORPHAN_SWEEP_SECONDS = 15 * 60  # how often waiting requests are checked for a review message deleted
UNPOSTED_SECONDS = 10 * 60  # a waiting request with no review message by then never got one
# The review text stays under Discord's 2000 characters with room for the decision lines added
# under it (approved/rejected by, or why it could not run); a longer prompt goes in an embed.
REVIEW_CONTENT_MAX = 1500
EMBED_DESCRIPTION_MAX = 4096
EMBEDS_TOTAL_MAX = 6000  # Discord's limit on all of a message's embeds together


# -- the request, stored -----------------------------------------------------------------
def job_record(job: ImageJob, review_locale: str) -> dict[str, Any]:
    """What is kept of a job while it waits (the reference images travel on the review message)."""
    return {
        "command": job.command,
        "prompt": job.prompt,
        "model": job.model.id,
        "size": job.size,
        "count": job.count,
        "price_micros": job.model.price_micros,  # the price the review shows (`_job` holds it to that)
        "seed": job.seed,
        "series": job.series,
        "watermark": job.watermark,
        "locale": job.locale,
        "review_locale": review_locale,
        "role_ids": list(job.role_ids),
        "parent_channel_id": job.parent_channel_id,
        "references": [{"filename": ref.filename, "url": ref.url} for ref in job.references],
    }


def job_from_record(bot: SeedreamBot, approval: Approval) -> ImageJob:
    record = approval.job
    return ImageJob(
        command=record["command"],
        guild_id=approval.guild_id,
        channel_id=approval.channel_id,
        user_id=approval.user_id,
        locale=record["locale"],
        prompt=record["prompt"],
        model=bot.resolve_model(record["model"]),
        size=record["size"],
        count=record["count"],
        seed=record["seed"],
        series=record["series"],
        role_ids=tuple(record["role_ids"]),
        watermark=record["watermark"],
        parent_channel_id=record.get("parent_channel_id"),  # absent in records from before threads
    )


@dataclass(frozen=True)
class _LinkedReference:
    """A reference known only by its stored URL (AttachmentLike for `load_references`)."""

    filename: str
    url: str
    size: int = 0
    width: int | None = None
    height: int | None = None
    content_type: str | None = None


# -- the moderators' message ---------------------------------------------------------------
def review_text(
    approval_id: int, job: ImageJob, *, attached: int, locale: str
) -> tuple[str, list[discord.Embed]]:
    """The review message: moderators read the whole prompt (a preview would let a member hide
    words after it), in the text when it fits, else in an embed under it; and every reference
    image, attached (`attached`: how many, the first ones) or linked, the links in an embed of
    their own when the text cannot hold them (a signed CDN link with a long non-Latin file name is
    hundreds of characters)."""
    prompt = whole_prompt(job.prompt)
    text = _review_lines(approval_id, job, t("approval.prompt", locale, prompt=f"**{prompt}**"),
                         attached=attached, locale=locale)
    if len(text) <= REVIEW_CONTENT_MAX:
        return text, []
    below = t("approval.prompt_below", locale, length=len(job.prompt))
    embeds = [discord.Embed(description=prompt)]
    text = _review_lines(approval_id, job, below, attached=attached, locale=locale)
    if len(text) <= REVIEW_CONTENT_MAX:
        return text, embeds
    text = _review_lines(approval_id, job, below, attached=attached, locale=locale, links_below=True)
    linked = list(enumerate(job.references, start=1))[attached:]
    room = EMBEDS_TOTAL_MAX - len(prompt)
    links = "\n".join(f"[{n}. {as_typed(ref.filename)}]({ref.url})" for n, ref in linked)
    if len(links) > min(room, EMBED_DESCRIPTION_MAX):  # the names go: the links stay
        links = "\n".join(f"[{t('approval.reference_number', locale, number=n)}]({ref.url})" for n, ref in linked)
    embeds.append(discord.Embed(description=links[: min(room, EMBED_DESCRIPTION_MAX)]))
    return text, embeds


def whole_prompt(prompt: str) -> str:
    """The prompt as the gateway gets it, on one line, its markdown shown as typed (nothing renders
    as a spoiler, a heading or a link). When escaping would not fit in an embed (a 4,000-character
    prompt full of markdown), a code block shows it, where nothing renders either: its backticks
    as look-alikes (U+02CB), which cannot close the block."""
    text = " ".join(prompt.split())
    escaped = as_typed(text)
    if len(escaped) <= EMBED_DESCRIPTION_MAX:
        return escaped
    room = EMBED_DESCRIPTION_MAX - len("```\n\n```")
    shown = text.replace("`", "\u02cb")
    shown = shown if len(shown) <= room else shown[: room - 1] + "…"
    return f"```\n{shown}\n```"


def _review_lines(
    approval_id: int, job: ImageJob, prompt_line: str, *, attached: int, locale: str, links_below: bool = False
) -> str:
    model = job.model
    cost = t("approval.cost_unknown", locale) if model.price_micros is None else format_usd(
        model.price_micros * job.count
    )
    lines = [
        t("approval.title", locale, id=approval_id),
        t("approval.member", locale, member=f"<@{job.user_id}>", channel=f"<#{job.channel_id}>"),
        prompt_line,
        t("approval.details", locale, model=model.label, size=_size_made(job) or t("size.auto", locale),
          count=job.count, cost=cost),
    ]
    count = len(job.references)
    if count and attached >= count:
        lines.append(t("approval.references_attached", locale, count=count))
    elif attached:  # the rest linked: moderators see every image they approve
        links = t("approval.links_below", locale) if links_below else _links(job.references[attached:])
        lines.append(t("approval.references_partly_attached", locale, count=count, attached=attached,
                       missing=count - attached, links=links))
    elif count:
        links = t("approval.links_below", locale) if links_below else _links(job.references)
        lines.append(t("approval.references_linked", locale, links=links))
    return "\n".join(lines)


def _size_made(job: ImageJob) -> str | None:
    """The size the request is made at (the model's default when the member named none): what the
    moderator approves. None when the gateway is sent no size (it decides)."""
    try:
        return job.model.normalize_size(job.size)
    except InvalidOptionError:  # checked when asked; shown as typed if the catalog changed since
        return job.size


def _links(references) -> str:
    return ", ".join(f"[{as_typed(ref.filename)}]({ref.url})" if ref.url else as_typed(ref.filename)
                     for ref in references)


def review_view(approval_id: int, locale: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ApprovalButton("approve", approval_id, label=t("approval.approve", locale)))
    view.add_item(ApprovalButton("reject", approval_id, label=t("approval.reject", locale)))
    return view


async def submit_for_approval(bot: SeedreamBot, interaction: discord.Interaction, job: ImageJob) -> None:
    """Check the request, store it and post it for the moderators; nothing is reserved (a limit
    no decision could change refuses it now: `screen_for_approval`)."""
    await bot.pipeline.screen_for_approval(job)
    # Approved, it is posted in this channel: one the bot cannot post in would make (and bill)
    # images nobody gets, and a rejection nobody hears.
    if not can_post_in(interaction.channel, interaction.app_permissions):  # as `bot_can_post` will
        locked = isinstance(interaction.channel, discord.Thread) and interaction.channel.locked
        raise UserError("approval.thread_locked" if locked else "approval.cannot_post_here", code="cannot_post_here")
    config = bot.storage.guild_config.get(job.guild_id)
    channel = await _channel(bot, config.approval_channel_id)
    if channel is None:
        raise UserError("approval.channel_unavailable", code="approval_channel_unavailable")
    review_locale = str(interaction.guild_locale.value) if interaction.guild_locale else job.locale
    record = job_record(job, review_locale)
    approvals = bot.storage.approvals
    approval_id = await approvals.create(
        guild_id=job.guild_id, channel_id=job.channel_id, user_id=job.user_id, job=record,
        unless_waiting=lambda waiting: _same_request(waiting, job, record),
    )  # fmt: skip
    if approval_id is None:
        raise UserError("approval.already_waiting", code="already_waiting")
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)
    attached = _attachable(job, min(channel.guild.filesize_limit, interaction.filesize_limit))
    files = [
        discord.File(io.BytesIO(ref.data), filename=_reference_filename(i, ref.filename, ref.format))
        for i, ref in enumerate(job.references[:attached])
    ]
    text, embeds = review_text(approval_id, job, attached=attached, locale=review_locale)
    message = None
    if bot_can_review(channel):  # else Discord would drop its embeds: moderators would not read it all
        try:
            message = await channel.send(text, embeds=embeds, files=files, view=review_view(approval_id, review_locale))
        except discord.HTTPException:
            log.warning("approval %s: could not post to the moderators' channel", approval_id, exc_info=True)
    else:
        log.warning("approval %s: the bot may not post, attach or embed in the moderators' channel", approval_id)
    if message is None:
        await approvals.mark_failed(approval_id)
        raise UserError("approval.channel_unavailable", code="approval_channel_unavailable")
    await approvals.set_review_message(approval_id, channel.id, message.id)
    await interaction.edit_original_response(content=t("approval.submitted", locale_of(interaction)))


_SAME_REQUEST = ("command", "prompt", "model", "size", "count", "seed", "series", "watermark")


def _same_request(waiting: Approval, job: ImageJob, record: dict[str, Any]) -> bool:
    """`waiting` is this request again, in the same channel: a double click on Re-roll, a command
    or a Variation form sent twice. Approved both, it would be made and charged twice. Images are
    the same only as the same attachments (their addresses): a file uploaded again is another."""
    return (
        waiting.channel_id == job.channel_id
        and (images := _image_addresses(waiting.job)) is not None
        and images == _image_addresses(record)
        and all(waiting.job.get(key) == record[key] for key in _SAME_REQUEST)
    )


def _image_addresses(record: dict[str, Any]) -> list[str] | None:
    """The reference images' addresses without their signature (Discord signs a link anew each
    time it is read); None when one has none, which nothing else is the same as."""
    addresses = [str(ref.get("url") or "").split("?", 1)[0] for ref in record.get("references") or []]
    return None if "" in addresses else addresses


def _attachable(job: ImageJob, filesize_limit: int) -> int:
    """How many of the reference images (the first ones) go on the review message: none when there
    are too many or one is over the upload limit (they are linked then), else those whose files
    together fit in one request (Discord refuses one over 25 MiB in all)."""
    references = job.references
    if len(references) > MAX_ATTACHED_REFERENCES or any(len(ref.data) > filesize_limit for ref in references):
        return 0
    total = 0
    for count, ref in enumerate(references):
        total += len(ref.data)
        if count and total > MAX_FILES_BYTES_PER_MESSAGE:
            return count
    return len(references)


def _reference_filename(index: int, name: str, fmt: str) -> str:
    stem = re.sub(r"[^\w.-]+", "_", name.rsplit(".", 1)[0])[:60] or "reference"
    return f"ref{index + 1}-{stem}.{fmt}"


async def _channel(bot: SeedreamBot, channel_id: int | None) -> PostableChannel | None:
    if channel_id is None:
        return None
    channel = bot.get_channel(channel_id)
    if channel is None:
        try:
            channel = await bot.fetch_channel(channel_id)
        except discord.HTTPException:
            return None
    return channel if isinstance(channel, PostableChannel) else None


async def _channel_deleted(bot: SeedreamBot, channel_id: int) -> bool:
    """Whether Discord says the channel is gone (not only closed to the bot)."""
    if bot.get_channel(channel_id) is not None:
        return False
    try:
        await bot.fetch_channel(channel_id)
    except discord.NotFound:
        return True
    except DISCORD_ERRORS:  # cannot tell (no access, a 5xx, the network)
        return False
    return False


# -- the buttons ------------------------------------------------------------------------------
class ApprovalButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"approval:(?P<action>approve|reject):(?P<id>[0-9]{1,18})"
):
    def __init__(self, action: Action, approval_id: int, *, label: str | None = None) -> None:
        style = discord.ButtonStyle.success if action == "approve" else discord.ButtonStyle.danger
        super().__init__(
            discord.ui.Button(label=label or action.title(), style=style, custom_id=f"approval:{action}:{approval_id}")
        )
        self.action: Action = action
        self.approval_id = approval_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ApprovalButton:
        return cls(match["action"], int(match["id"]))  # type: ignore[arg-type]

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        bot: SeedreamBot = interaction.client  # type: ignore[assignment]
        try:
            await decide(bot, interaction, self.approval_id, self.action)
        except Exception as error:  # the one error funnel, as for commands
            await report_error(interaction, error)


async def decide(bot: SeedreamBot, interaction: discord.Interaction, approval_id: int, action: Action) -> None:
    require_moderator(interaction)
    approvals = bot.storage.approvals
    review = interaction.message
    approval = await approvals.decide(approval_id, "approved" if action == "approve" else "rejected",
                                      by=interaction.user.id, review_message_id=review.id if review else None)
    if approval is None:
        await _already_decided(bot, interaction, approval_id, review.id if review else None)
        return
    moderator = as_typed(interaction.user.display_name)  # a name with Markdown in it is shown as typed
    review_locale = approval.job.get("review_locale", approval.job["locale"])
    content = review.content if review else ""
    decision_key = "approval.decided_approved" if action == "approve" else "approval.decided_rejected"
    decided = _decided(content, decision_key, review_locale, moderator=interaction.user.mention)
    try:
        await interaction.response.edit_message(content=decided, view=None)
    except discord.HTTPException as error:
        # The review deleted as it was pressed, or the press answered too late: the decision is
        # taken all the same (it is stored), so it must run, or its member be told, as any other.
        log.warning("approval %s: the review could not show the decision (%s); carrying it out", approval.id,
                    getattr(error, "code", None) or error.status)
        with contextlib.suppress(discord.HTTPException):  # the moderator hears it, if the press can still answer
            await interaction.response.send_message(decided, ephemeral=True)
    if action == "reject":
        await _audit(bot, approval, interaction.user.id, "request.rejected")
        if not await _tell_member(bot, approval, "approval.member_rejected", moderator=moderator):
            await _say_not_told(interaction, approval)
        return
    await _run_approved(bot, interaction, approval, content, review_locale)


async def _run_approved(
    bot: SeedreamBot, interaction: discord.Interaction, approval: Approval, content: str, review_locale: str
) -> None:
    """Through the same line as a command (`bot.generate_in_channel`): it counts toward the member's
    and the bot's limits, waits its turn, and a shutdown withdraws or stops it and tells the member."""
    tickets: list[Ticket] = []

    async def admitted(ticket: Ticket) -> None:
        await _audit(bot, approval, interaction.user.id, "request.approved", request_id=ticket.request_id)
        tickets.append(ticket)  # from here on it runs (a failure above releases it: told as refused)

    try:
        channel = await _channel(bot, approval.channel_id)
        if channel is None:
            raise UserError("approval.channel_gone", code="channel_gone")  # noqa: TRY301 - told like any refusal
        if not bot_can_post(channel):  # lost since the member asked: nothing is made for nobody
            raise UserError("approval.cannot_post_there", code="cannot_post_there", channel=f"<#{channel.id}>")  # noqa: TRY301
        # Fitted to the upload limit Discord reports for this server (the approving press's), not
        # discord.py's table of boost levels, which Discord's limits have outrun before.
        upload_limit = min(channel.guild.filesize_limit, interaction.filesize_limit)
        await bot.generate_in_channel(channel, await _job(bot, interaction, approval), admitted=admitted,
                                      upload_limit=upload_limit)
    except Exception as error:
        if tickets:  # it ran: the member was told in their channel, the books are closed
            log.exception("approval %s: request %s failed", approval.id, tickets[0].request_id)
            return
        if getattr(error, "code", None) == "restarting":  # nothing ran: the decision waits for the restart
            await _reopen(bot, interaction, approval, content, review_locale)
            return
        if not is_expected(error):
            log.exception("approval %s could not run", approval.id)
        await bot.storage.approvals.mark_failed(approval.id)
        await _audit(bot, approval, interaction.user.id, "request.approval_failed",
                     request_id=getattr(error, "request_id", None))  # a quota's 'refused' ledger row
        # Each of the three is told even if telling another fails: the review, the moderator, the member.
        failed = _decided(content, "approval.decided_failed", review_locale, moderator=interaction.user.mention,
                          reason=_why_for_moderators(error, approval, review_locale))
        try:
            await interaction.edit_original_response(content=failed)
        except DISCORD_ERRORS:
            log.warning("approval %s: could not say on its review message that it failed", approval.id, exc_info=True)
        try:
            why = _why_for_moderators(error, approval, locale_of(interaction))
            await interaction.followup.send(why, ephemeral=True)
        except DISCORD_ERRORS:
            log.warning("approval %s: could not tell the moderator why it failed", approval.id, exc_info=True)
        moderator = as_typed(interaction.user.display_name)  # shown as typed, Markdown and all
        # A prompt the blocklist refuses is not repeated in the member's channel: until then only
        # the moderators saw it.
        blocked = getattr(error, "code", None) == "blocked_term"
        told = "approval.member_failed_blocked" if blocked else "approval.member_failed"
        if not await _tell_member(bot, approval, told, moderator=moderator,
                                  reason=explain(error, approval.job["locale"])):
            await _say_not_told(interaction, approval)


def _why_for_moderators(error: BaseException, approval: Approval, locale: str | None) -> str:
    """Why an approved request could not run, as moderators read it: the member's own limit is
    named as the member's (the member's notice says "your"), anything else as the member reads it."""
    if isinstance(error, QuotaExceeded) and error.kind in ("daily_images", "monthly_usd"):
        show = str if error.kind == "daily_images" else format_usd
        return t(f"approval.member_limit.{error.kind}", locale, member=f"<@{approval.user_id}>",
                 limit=show(error.limit), used=show(error.used), requested=show(error.requested))  # fmt: skip
    return explain(error, locale)


async def _reopen(
    bot: SeedreamBot, interaction: discord.Interaction, approval: Approval, content: str, review_locale: str
) -> None:
    """The bot is shutting down: the request waits again, its buttons back on the review message,
    and the moderator is told privately to press again once the bot is back."""
    log.info("approval %s: approved during a shutdown; waiting again", approval.id)
    await bot.storage.approvals.reopen(approval.id)
    await interaction.edit_original_response(content=content, view=review_view(approval.id, review_locale))
    await interaction.followup.send(t("approval.restarting", locale_of(interaction)), ephemeral=True)


async def _job(bot: SeedreamBot, interaction: discord.Interaction, approval: Approval) -> ImageJob:
    """The stored request, with the member's roles as they are now (the limits that apply are
    today's, not those of when they asked) and its reference images loaded again (checked like
    any other)."""
    job = job_from_record(bot, approval)
    # The operator raised the price after the review (a restart with new IMAGE_PRICES, or one set
    # where none was: the books had it at $0): the moderator approved what the review said it
    # costs, not more. Requests stored before reviews kept their price are not held to one.
    reviewed, price = approval.job.get("price_micros") or 0, job.model.price_micros or 0
    if "price_micros" in approval.job and price > reviewed:
        raise UserError("approval.price_rose", code="price_rose", reviewed=format_usd(reviewed * job.count),
                        now=format_usd(price * job.count))
    job.role_ids = await _current_roles(interaction.guild, approval.user_id)
    references = _references(interaction, approval)
    if references:
        job.references = await load_references(bot.services.http, references, job.model)
    return job


async def _current_roles(guild: discord.Guild | None, user_id: int) -> tuple[int, ...]:
    """The member's role ids now; a member who left the server cannot be run for."""
    member = guild.get_member(user_id) if guild is not None else None
    if member is None and guild is not None:
        try:
            member = await guild.fetch_member(user_id)
        except discord.NotFound:
            member = None
    if member is None:
        raise UserError("error.not_a_member", code="member_gone", member=f"<@{user_id}>")
    return tuple(role.id for role in member.roles)


def _references(interaction: discord.Interaction, approval: Approval) -> list[Any]:
    """The reference images: those attached to the review message (fresh URLs; the first ones, as
    many as fitted in it), the stored links for the rest."""
    stored = approval.job.get("references") or []
    attached = list(interaction.message.attachments) if interaction.message else []
    if len(attached) > len(stored):
        attached = []
    return [*attached, *(_LinkedReference(ref["filename"], ref["url"]) for ref in stored[len(attached):])]


async def _already_decided(
    bot: SeedreamBot, interaction: discord.Interaction, approval_id: int, review_message_id: int | None
) -> None:
    locale = locale_of(interaction)
    approval = await bot.storage.approvals.get(approval_id)
    other = approval is not None and None not in (approval.review_message_id, review_message_id) and (
        approval.review_message_id != review_message_id
    )  # the number is another request's now (a database started afresh)
    if approval is None or approval.decided_by is None or other:
        text = t("approval.unknown", locale)
    else:
        text = t("approval.already_decided", locale, status=t(f"approval.status_{approval.status}", locale),
                 moderator=f"<@{approval.decided_by}>")
    await interaction.response.send_message(text, ephemeral=True)


async def _tell_member(bot: SeedreamBot, approval: Approval, key: str, **params: object) -> bool:
    """Tell the member in their channel; False when that could not be done (logged)."""
    channel = await _channel(bot, approval.channel_id)
    if channel is None:
        log.warning("approval %s: the member's channel is gone; they were not told", approval.id)
        return False
    text = _fitted(MAX_MESSAGE, key, approval.job["locale"], member=f"<@{approval.user_id}>",
                   prompt=prompt_preview(approval.job["prompt"]), asked=f"<t:{approval.created_at // 1000}:f>",
                   **params)  # fmt: skip
    try:
        await channel.send(text, allowed_mentions=discord.AllowedMentions(users=[discord.Object(approval.user_id)]))
    except DISCORD_ERRORS:
        log.warning("approval %s: could not tell the member", approval.id, exc_info=True)
        return False
    return True


def _decided(content: str, key: str, locale: str, **params: object) -> str:
    """The review message with a decision line under it, within Discord's 2000 characters: a long
    `reason` in it is cut to the room left, never the decision; the review text only if even the
    decision alone would not fit."""
    line = _fitted(MAX_MESSAGE - len(content) - 1, key, locale, **params)
    return f"{_clip(content, MAX_MESSAGE - len(line) - 1)}\n{line}"


def _fitted(room: int, key: str, locale: str, **params: object) -> str:
    """The sentence `key`, its `reason` (an explanation, up to 2000 characters itself) cut to fit in
    `room` characters when it would not; the sentence as it is when nothing can make it fit."""
    text = t(key, locale, **params)
    if len(text) <= room or "reason" not in params:
        return text
    bare = len(t(key, locale, **{**params, "reason": ""}))
    return t(key, locale, **{**params, "reason": _clip(str(params["reason"]), room - bare)})


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…" if limit > 0 else ""


async def _say_not_told(interaction: discord.Interaction, approval: Approval) -> None:
    """The moderator hears, privately, that the member did not (and why): they can tell them otherwise."""
    gone = await _channel_deleted(interaction.client, approval.channel_id)  # type: ignore[arg-type]
    key = "approval.member_not_told_gone" if gone else "approval.member_not_told"
    try:
        await interaction.followup.send(
            t(key, locale_of(interaction), member=f"<@{approval.user_id}>", channel=f"<#{approval.channel_id}>"),
            ephemeral=True,
        )
    except DISCORD_ERRORS:  # the press was never answered (too late): nothing more can be said through it
        log.warning("approval %s: could not tell the moderator that the member was not told", approval.id)


async def _audit(
    bot: SeedreamBot, approval: Approval, moderator_id: int, action: str, *, request_id: int | None = None
) -> None:
    record = approval.job
    price = bot.preset.models.get(record["model"])
    cost = None if price is None or price.price_micros is None else price.price_micros * record["count"]
    summary = (f"member:{approval.user_id} prompt:{record['prompt']!r} model:{record['model']} "
               f"images:{record['count']} cost_at_most_micros:{cost}")
    await bot.storage.audit.record(
        approval.guild_id, moderator_id, action, f"approval:{approval.id}", "pending",
        f"{action.removeprefix('request.')} {summary}", request_id=request_id,
    )


async def _restore_buttons(bot: SeedreamBot, approvals: list[Approval]) -> None:
    """Once connected: each reopened request's review message gets its buttons back, with a line
    saying why (best effort: a message deleted meanwhile is left as it is)."""
    await bot.wait_until_ready()
    for approval in approvals:
        review_locale = approval.job.get("review_locale", approval.job["locale"])
        try:
            current = await bot.storage.approvals.get(approval.id)
            if current is None or current.status != "pending":  # decided again meanwhile (old buttons)
                continue
            channel = await _channel(bot, approval.review_channel_id)
            if channel is None or approval.review_message_id is None:
                continue
            message = await channel.fetch_message(approval.review_message_id)
            note = t("approval.reopened", review_locale)
            kept = message.content[: MAX_MESSAGE - len(note) - 1]
            await message.edit(content=f"{kept}\n{note}", view=review_view(approval.id, review_locale))
        except DISCORD_ERRORS:
            log.warning("approval %s: could not give its review message its buttons back", approval.id, exc_info=True)


async def withdraw_orphans(bot: SeedreamBot) -> None:
    """Waiting requests whose review message is gone (a moderator deleted it, or its channel) can
    never be decided: each is ended and its member told. The bot has no message events (no
    message intent), so it looks: at start, then every `ORPHAN_SWEEP_SECONDS`. One with no review
    message after `ORPHAN_SWEEP_SECONDS` (the bot stopped between posting it and recording it) is
    ended too: no moderator has buttons for it."""
    now_ms = int(time.time() * 1000)
    for approval in await bot.storage.approvals.waiting():
        if approval.review_message_id is None or approval.review_channel_id is None:
            if now_ms - approval.created_at < UNPOSTED_SECONDS * 1000:
                continue  # being posted right now
        else:
            try:
                channel = bot.get_channel(approval.review_channel_id) or await bot.fetch_channel(
                    approval.review_channel_id
                )
                await channel.fetch_message(approval.review_message_id)  # type: ignore[union-attr]
                continue
            except discord.NotFound:
                pass
            except (*DISCORD_ERRORS, AttributeError):  # cannot tell now (a 5xx, no access): next time
                continue
        if await bot.storage.approvals.withdraw(approval.id):
            log.info("approval %s: its review message is gone; withdrawn", approval.id)
            await _tell_member(bot, approval, "approval.member_withdrawn")


class ApprovalButtons(commands.Cog):
    """Registers the buttons; they are found by custom_id, also on messages from before a restart."""

    def __init__(self, bot: SeedreamBot) -> None:
        self.bot = bot
        self._restoring: asyncio.Task[None] | None = None  # buttons back on reopened review messages
        self._sweeping: asyncio.Task[None] | None = None  # `withdraw_orphans`, now and then

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ApprovalButton)
        reopened = await self.bot.storage.approvals.reopen_unstarted()
        if reopened:
            log.warning("%d approved request(s) had not started when the bot stopped: they wait for a "
                        "moderator again", len(reopened))
            self._restoring = asyncio.create_task(_restore_buttons(self.bot, reopened), name="reopen-approvals")
        self._sweeping = asyncio.create_task(self._sweep(), name="approval-orphans")

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ApprovalButton)
        if self._sweeping is not None:
            self._sweeping.cancel()

    async def _sweep(self) -> None:
        await self.bot.wait_until_ready()
        while not self.bot.is_closed():
            try:
                await withdraw_orphans(self.bot)
            except Exception:  # the database closing in a shutdown, or a bug: never the loop's end
                log.exception("looking for approvals whose review message is gone failed")
            await asyncio.sleep(ORPHAN_SWEEP_SECONDS)


async def setup(bot: SeedreamBot) -> None:
    await bot.add_cog(ApprovalButtons(bot))
