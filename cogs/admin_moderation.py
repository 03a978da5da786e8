"""Admin commands for moderation: /blocklist add|remove|list and /settings ...

Discord hides them from members without Manage Server by default, but a server can change
that, so every command also checks `require_admin` itself. Every change goes to the audit log.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from cogs.checks import require_admin
from cogs.options import model_autocomplete, server_default_model, size_autocomplete, takes_size
from i18n import locale_of, t
from image_gateway.catalog import InvalidOptionError
from pipeline.explain import UserError
from pipeline.moderation import InvalidTermError, compile_term, term_key
from pipeline.permissions import bot_can_review
from storage.guild_config import GuildConfig

if TYPE_CHECKING:
    from bot import SeedreamBot

ADMIN = discord.Permissions(manage_guild=True)
MAX_LIST_CHARS = 1800


def _admin(interaction: discord.Interaction) -> int:
    require_admin(interaction)
    assert interaction.guild_id is not None
    return interaction.guild_id


async def _reply(interaction: discord.Interaction, key: str, **params: object) -> None:
    await interaction.response.send_message(t(key, locale_of(interaction), **params), ephemeral=True)



class _ImageChannel(app_commands.Transformer):
    """A text, announcement or forum channel (a forum's posts are threads, where members ask): the
    ones Discord's picker offers. Not discord.py's `TextChannel | ForumChannel`, which adds media
    channels (16), a type Discord's API description does not list."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.text, discord.ChannelType.news, discord.ChannelType.forum]

    async def transform(self, interaction: discord.Interaction, value: Any) -> Any:
        return value


ImageChannel = app_commands.Transform[discord.abc.Snowflake, _ImageChannel]

class AdminModeration(commands.Cog):
    blocklist = app_commands.Group(
        name="blocklist", description="Terms that are refused in prompts on this server",
        guild_only=True, default_permissions=ADMIN,
    )
    settings = app_commands.Group(
        name="settings", description="Image settings for this server", guild_only=True, default_permissions=ADMIN,
    )
    channels = app_commands.Group(name="channels", description="Where image commands work", parent=settings)

    def __init__(self, bot: SeedreamBot) -> None:
        self.bot = bot
        self.configs = bot.storage.guild_config

    async def _audit(self, interaction: discord.Interaction, action: str, old: object, new: object) -> None:
        assert interaction.guild_id is not None
        await self.bot.storage.audit.record(interaction.guild_id, interaction.user.id, action, "guild", old, new)

    # -- /blocklist -------------------------------------------------------------------------
    @blocklist.command(name="add", description="Block a word, or a regular expression written re:<pattern>")
    @app_commands.describe(term="A word or phrase (matched case-insensitively), or re:<regular expression>")
    async def blocklist_add(self, interaction: discord.Interaction, term: app_commands.Range[str, 1, 200]) -> None:
        guild_id = _admin(interaction)
        term = term.strip()
        try:
            compile_term(term)
        except InvalidTermError as error:
            reason = t(f"term.{error.code}", locale_of(interaction), **error.params)
            raise UserError("settings.term_invalid", code="invalid_term", reason=reason) from None
        if not await self.configs.add_term(guild_id, term, key=term_key):  # "NUDE" when "nude" is there
            await _reply(interaction, "settings.term_exists")
            return
        await self._audit(interaction, "moderation.term_added", None, term)
        await _reply(interaction, "settings.term_added")

    @blocklist.command(name="remove", description="Unblock a term")
    @app_commands.describe(term="The term exactly as it is listed")
    async def blocklist_remove(self, interaction: discord.Interaction, term: str) -> None:
        guild_id = _admin(interaction)
        term = term.strip()
        removed = await self.configs.remove_term(guild_id, term, key=term_key)  # and "Nude", "ＮＵＤＥ"
        if not removed:
            await _reply(interaction, "settings.term_missing")
            return
        await self._audit(interaction, "moderation.term_removed", "\n".join(removed), None)
        await _reply(interaction, "settings.term_removed")

    @blocklist.command(name="list", description="Show the blocked terms")
    async def blocklist_list(self, interaction: discord.Interaction) -> None:
        guild_id = _admin(interaction)
        terms = self.configs.get(guild_id).blocked_terms
        if not terms:
            await _reply(interaction, "settings.blocklist_empty")
            return
        # Whole terms only, each as `remove` wants it typed (a double-backtick span keeps one with a
        # backtick whole; one with two together would end it, so it is only in the file); the ones
        # not listed, and all the others, in an attached file.
        lines, used = [], 0
        for term in terms:
            if "``" in term:
                continue
            line = f"`` {term} ``"
            if used + len(line) + 1 > MAX_LIST_CHARS:
                break
            lines.append(line)
            used += len(line) + 1
        locale = locale_of(interaction)
        text = t("settings.blocklist", locale, count=len(terms), terms="\n".join(lines))
        if len(lines) == len(terms):
            await interaction.response.send_message(text, ephemeral=True)
            return
        text += "\n" + t("settings.blocklist_more", locale, count=len(terms) - len(lines))
        every = discord.File(io.BytesIO("\n".join(terms).encode()), filename="blocked-terms.txt")
        await interaction.response.send_message(text, file=every, ephemeral=True)

    # -- /settings channels -----------------------------------------------------------------
    @channels.command(name="add", description="Allow image commands in this channel and its threads (only the listed)")
    async def channels_add(self, interaction: discord.Interaction, channel: ImageChannel) -> None:
        guild_id = _admin(interaction)
        old = self.configs.get(guild_id)
        await self.configs.add_channel(guild_id, channel.id)
        await self._changed_channels(interaction, old)

    @channels.command(name="remove", description="Stop allowing image commands in this channel")
    async def channels_remove(self, interaction: discord.Interaction, channel: ImageChannel) -> None:
        guild_id = _admin(interaction)
        old = self.configs.get(guild_id)
        await self.configs.remove_channel(guild_id, channel.id)
        await self._changed_channels(interaction, old)

    @channels.command(name="clear", description="Allow image commands in every channel again")
    async def channels_clear(self, interaction: discord.Interaction) -> None:
        guild_id = _admin(interaction)
        old = self.configs.get(guild_id)
        await self.configs.clear_channels(guild_id)
        await self._changed_channels(interaction, old)

    async def _changed_channels(self, interaction: discord.Interaction, old: GuildConfig) -> None:
        new = self.configs.get(old.guild_id)
        before, after = _ids(old.allowed_channel_ids), _ids(new.allowed_channel_ids)
        await self._audit(interaction, "moderation.channels", before, after)
        await _reply(interaction, "settings.channels_now", channels=_channels(new, locale_of(interaction)))

    # -- /settings required-role, approval, defaults, show ---------------------------------
    @settings.command(name="required-role", description="Only members with this role may generate (omit to clear)")
    async def required_role(self, interaction: discord.Interaction, role: discord.Role | None = None) -> None:
        guild_id = _admin(interaction)
        old = self.configs.get(guild_id).required_role_id
        await self.configs.update(guild_id, required_role_id=role.id if role else None)
        await self._audit(interaction, "moderation.required_role", old, role.id if role else None)
        if role is None:
            await _reply(interaction, "settings.role_cleared")
        else:
            await _reply(interaction, "settings.role_set", role=role.mention)

    @settings.command(name="approval", description="Send requests to a moderators' channel for approval first")
    @app_commands.describe(mode="on or off", channel="The moderators' channel (needed to turn it on)")
    async def approval(
        self, interaction: discord.Interaction, mode: Literal["on", "off"], channel: discord.TextChannel | None = None
    ) -> None:
        guild_id = _admin(interaction)
        old = self.configs.get(guild_id)
        if mode == "off":
            await self.configs.update(guild_id, approval=False)
            await self._audit(interaction, "moderation.approval", _approval(old), "off")
            waiting = [a for a in await self.bot.storage.approvals.waiting() if a.guild_id == guild_id]
            if waiting:  # decided as before: turning it off approves or rejects none of them
                where = dict.fromkeys(a.review_channel_id or old.approval_channel_id for a in waiting)
                await _reply(interaction, "settings.approval_off_waiting", count=len(waiting),
                             channel=", ".join(f"<#{channel_id}>" for channel_id in where))  # fmt: skip
            else:
                await _reply(interaction, "settings.approval_off")
            return
        channel_id = channel.id if channel else old.approval_channel_id
        if channel_id is None:
            raise UserError("settings.approval_needs_channel", code="approval_needs_channel")
        target = interaction.guild.get_channel_or_thread(channel_id) if interaction.guild else None
        if not isinstance(target, discord.TextChannel | discord.Thread) or not bot_can_review(target):
            # every member's request would be refused, or posted where no moderator sees it
            raise UserError("settings.approval_cannot_post", code="approval_cannot_post", channel=f"<#{channel_id}>")
        new = await self.configs.update(guild_id, approval=True, approval_channel_id=channel_id)
        await self._audit(interaction, "moderation.approval", _approval(old), _approval(new))
        await _reply(interaction, "settings.approval_on", channel=f"<#{channel_id}>")

    @staticmethod
    def _role_text(guild: discord.Guild | None, role_id: int | None, locale: str) -> str:
        if role_id is None:
            return t("settings.none", locale)
        if guild is not None and guild.get_role(role_id) is None:
            return t("settings.role_deleted", locale)  # every member is refused until another is chosen
        return f"<@&{role_id}>"

    @settings.command(name="defaults", description="The server's default model, size and watermark")
    @app_commands.describe(
        model="Default model when a member picks none", size="Default size when a member gives none",
        watermark="Ask the gateway for a watermark", reset="Forget the server's defaults",
    )
    @app_commands.autocomplete(model=model_autocomplete, size=size_autocomplete)
    async def defaults(
        self, interaction: discord.Interaction, model: str | None = None, size: str | None = None,
        watermark: bool | None = None, reset: bool = False,
    ) -> None:
        guild_id = _admin(interaction)
        old = self.configs.get(guild_id)
        locale = locale_of(interaction)
        notes: list[str] = []
        values: dict[str, object] = {}
        given = model is not None or size is not None or watermark is not None
        if reset and given:  # which would win is a guess the admin should not have to make
            raise UserError("settings.reset_alone", code="bad_option")
        if not reset and not given:  # nothing asked: say so, and what the defaults are
            lines = [t("settings.defaults_unchanged", locale), self._defaults_line(old, locale)]
            await interaction.response.send_message("\n".join(lines), ephemeral=True)
            return
        if reset:
            values = {"default_model": None, "default_size": None, "watermark": None}
        else:
            if model:
                spec = self.bot.resolve_model(model)  # a model the admin names is refused here if unknown
                values["default_model"] = spec.id
            else:
                # The saved one as requests use it: one this gateway does not offer (saved under another
                # IMAGE_PROVIDER) gives way to the bot's, and stays saved for when it is offered again.
                spec = server_default_model(self.bot, old.default_model)
            if size is not None:
                # refused here if this model does not take it; saved as requests send it ("２Ｋ", "2k": "2K")
                values["default_size"] = spec.normalize_size(size)
            elif model and old.default_size and not takes_size(spec, old.default_size):
                # requests would quietly get the new model's own size instead
                values["default_size"] = None
                notes.append(t("settings.size_cleared", locale, size=old.default_size, model=spec.id))
            if watermark is not None:
                values["watermark"] = watermark
        new = await self.configs.update(guild_id, **values)
        await self._audit(interaction, "moderation.defaults", _defaults(old), _defaults(new))
        lines = [t("settings.defaults_saved", locale), *notes, self._defaults_line(new, locale)]
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    @settings.command(name="show", description="Show this server's image settings")
    async def show(self, interaction: discord.Interaction) -> None:
        guild_id = _admin(interaction)
        config = self.configs.get(guild_id)
        locale = locale_of(interaction)
        if config.needs_approval:
            approval = t("settings.on_in", locale, channel=f"<#{config.approval_channel_id}>")
        else:
            approval = t("settings.off", locale)
        lines = [
            t("settings.show_title", locale),
            t("settings.show_channels", locale, channels=_channels(config, locale)),
            t("settings.show_role", locale, role=self._role_text(interaction.guild, config.required_role_id, locale)),
            t("settings.show_approval", locale, approval=approval),
            t("settings.show_terms", locale, count=len(config.blocked_terms)),
            self._defaults_line(config, locale),
        ]
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    def _defaults_line(self, config: GuildConfig, locale: str) -> str:
        """The defaults as saved, and which of them requests cannot use (`cogs.options._default_model`
        and `_default_size` pass over them)."""
        bot_model = self.bot.resolve_model(None).id
        bot_mark = self.bot.settings.image_watermark
        watermark = config.watermark
        model = config.default_model or t("settings.bot_default", locale, value=bot_model)
        try:
            spec = self.bot.resolve_model(config.default_model)
        except InvalidOptionError:  # saved under another IMAGE_PROVIDER: requests use the bot's
            spec = self.bot.resolve_model(None)
            model = t("settings.model_not_offered", locale, model=config.default_model, default=bot_model)
        size = config.default_size or t("size.auto", locale)
        if config.default_size and not takes_size(spec, config.default_size):
            size = t("settings.size_not_used", locale, size=config.default_size, model=spec.id)
        return t(
            "settings.show_defaults", locale,
            model=model,
            size=size,
            watermark=t("settings.bot_default", locale, value=_on_off(bot_mark, locale)) if watermark is None
            else _on_off(watermark, locale),
        )


def _on_off(value: bool, locale: str) -> str:
    return t("settings.on" if value else "settings.off", locale)


MAX_CHANNELS_CHARS = 1000  # the list within a reply that must stay under Discord's 2000 characters


def _channels(config: GuildConfig, locale: str) -> str:
    """The allowed channels as mentions; past `MAX_CHANNELS_CHARS`, the first ones and "+N"."""
    if not config.allowed_channel_ids:
        return t("settings.all_channels", locale)
    separator = t("list.separator", locale)
    shown: list[str] = []
    for channel_id in config.allowed_channel_ids:
        mention = f"<#{channel_id}>"
        if sum(len(m) + 2 for m in shown) + len(mention) > MAX_CHANNELS_CHARS:
            return separator.join(shown) + f" (+{len(config.allowed_channel_ids) - len(shown)})"
        shown.append(mention)
    return separator.join(shown)


def _ids(ids: tuple[int, ...]) -> str | None:
    return ",".join(map(str, ids)) or None


def _approval(config: GuildConfig) -> str:
    return f"on channel:{config.approval_channel_id}" if config.needs_approval else "off"


def _defaults(config: GuildConfig) -> str:
    return f"model:{config.default_model} size:{config.default_size} watermark:{config.watermark}"


async def setup(bot: SeedreamBot) -> None:
    await bot.add_cog(AdminModeration(bot))
