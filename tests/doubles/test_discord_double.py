"""Self-test of the Discord double: the real discord.py (login, gateway, app commands, views, modals) runs
against it over loopback, and the double enforces Discord's rules on what the bot sends."""

from __future__ import annotations

import asyncio
import io
import logging
import warnings
from dataclasses import dataclass, field

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from tests.doubles.discord_double import DiscordDouble, Guild, User

PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class AskModal(discord.ui.Modal, title="Describe it"):
    prompt = discord.ui.TextInput(label="Prompt", custom_id="prompt")
    style = discord.ui.Label(text="Style", component=discord.ui.TextInput(custom_id="style", required=False))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        style = self.style.component.value  # type: ignore[attr-defined]
        await interaction.response.send_message(f"you said {self.prompt.value} in {style}", ephemeral=True)


class AgainView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=30)

    @discord.ui.button(label="Again", custom_id="again", style=discord.ButtonStyle.primary)
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_message("clicked again", ephemeral=True)

    @discord.ui.button(label="Done", custom_id="done")
    async def done(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="all done", embed=None, view=None)


@dataclass
class Outcome:
    errors: list[tuple[int, int]] = field(default_factory=list)  # (status, Discord code) the bot saw


class DoubleTestBot(commands.Bot):
    def __init__(self, guild_id: int, outcome: Outcome) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.guild_id = guild_id
        self.outcome = outcome

    async def setup_hook(self) -> None:
        outcome = self.outcome

        @self.tree.command(description="Echo an image back")
        @app_commands.describe(image="a picture", caption="words")
        async def echo(
            interaction: discord.Interaction,
            image: discord.Attachment,
            caption: str,
            count: app_commands.Range[int, 1, 4] = 1,
            scale: float = 1.0,
        ) -> None:
            data = await image.read()
            await interaction.response.send_message(
                f"got {len(data)} bytes {caption} x{count} s{scale} {image.width}x{image.height}",
                file=discord.File(io.BytesIO(data), filename="echo.png"),
            )

        @self.tree.command(description="Defer, then deliver files, an embed and a button")
        async def render(interaction: discord.Interaction, files: int = 2, size: int = 8, text_len: int = 5) -> None:
            await interaction.response.defer(thinking=True)
            blobs = [discord.File(io.BytesIO(bytes([i]) * size), filename=f"img{i}.png") for i in range(files)]
            embed = discord.Embed(title="Rendered", description="two images").add_field(name="seed", value="42")
            try:
                await interaction.followup.send("x" * text_len, files=blobs, embed=embed, view=AgainView())
            except discord.HTTPException as exc:
                outcome.errors.append((exc.status, exc.code))
                await interaction.followup.send(f"failed {exc.status} {exc.code}", ephemeral=True)

        @self.tree.command(description="Answer with a modal")
        async def ask(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(AskModal())

        @self.tree.command(description="Too slow to acknowledge")
        async def late(interaction: discord.Interaction, delay: float) -> None:
            await asyncio.sleep(delay)
            try:
                await interaction.response.defer()
            except discord.HTTPException as exc:
                outcome.errors.append((exc.status, exc.code))

        @self.tree.command(description="Reply, edit, then post in the channel")
        async def say(interaction: discord.Interaction, text: str, later: float = 0.0) -> None:
            await interaction.response.send_message(text, ephemeral=True)
            await asyncio.sleep(later)
            try:
                await interaction.edit_original_response(content=f"{text} (edited)")
                await interaction.channel.send(f"channel: {text}")  # type: ignore[union-attr]
            except discord.HTTPException as exc:
                outcome.errors.append((exc.status, exc.code))

        @self.tree.context_menu(name="Remix")
        async def remix(interaction: discord.Interaction, message: discord.Message) -> None:
            await interaction.response.send_message(f"remix {len(message.attachments)} {message.content}")

        guild = discord.Object(self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)


@dataclass
class World:
    dd: DiscordDouble
    bot: DoubleTestBot
    guild: Guild
    channel: discord.abc.Snowflake
    alice: User
    outcome: Outcome


@pytest.fixture
async def world(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    dd = DiscordDouble(ack_timeout=0.5)
    if dd.spec_skip_reason:
        warnings.warn(f"Discord double: {dd.spec_skip_reason}", stacklevel=1)
    await dd.start()
    guild = dd.add_guild("Double Guild", locale="de")
    channel = dd.add_channel(guild, "general")
    alice = dd.add_user("alice")
    dd.add_member(guild, alice, roles=[dd.add_role(guild, "artists", permissions=0)])

    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = dd.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(dd.gateway_url)
    outcome = Outcome()
    bot = DoubleTestBot(guild.id, outcome)
    task = None
    try:
        await bot.login(dd.bot_token)
        task = asyncio.create_task(bot.connect(reconnect=False))
        await dd.wait_until_ready(5)
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        yield World(dd, bot, guild, channel, alice, outcome)
    finally:
        await bot.close()
        if task is not None:
            await asyncio.wait_for(task, 5)
        await dd.close()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def _no_spec_violations(dd: DiscordDouble) -> None:
    assert dd.spec_violations == [], dd.spec_violations
    assert dd.unhandled == [], dd.unhandled
    assert dd.internal_errors == [], dd.internal_errors


async def test_login_ready_and_command_sync(world: World) -> None:
    dd, bot = world.dd, world.bot
    assert bot.user is not None and bot.user.id == dd.bot_user.id
    assert bot.application_id == dd.application_id
    g = bot.get_guild(world.guild.id)
    assert g is not None and g.preferred_locale == discord.Locale.german
    assert g.me is not None and g.get_channel(world.channel.id) is not None
    me_perms = g.get_channel(world.channel.id).permissions_for(g.me)  # type: ignore[union-attr]
    assert me_perms.send_messages and me_perms.attach_files
    assert dd.commands.put_counts[world.guild.id] == 1
    names = {c["name"] for c in dd.commands.guild_payload(world.guild.id) or []}
    assert names == {"echo", "render", "ask", "late", "say", "Remix"}
    assert dd.identify_payloads[0]["token"] == "<redacted>"
    assert dd.gateway_query.get("compress") == "zlib-stream"  # and our text frames were accepted
    _no_spec_violations(dd)


async def test_attachment_option_round_trip(world: World) -> None:
    dd = world.dd
    inter = await dd.invoke_command(
        "echo",
        {"caption": "hi", "count": 3, "scale": 2.5},
        user=world.alice,
        guild=world.guild,
        channel=world.channel,
        attachments=[("ref.png", PNG_1x1, "image/png")],
    )
    opts = {o["name"]: o for o in inter.payload["data"]["options"]}
    assert (opts["image"]["type"], opts["caption"]["type"], opts["count"]["type"], opts["scale"]["type"]) == (
        11,
        3,
        4,
        10,
    )
    await inter.wait_for_final(timeout=5)
    assert inter.callback_type == 4
    assert f"got {len(PNG_1x1)} bytes hi x3 s2.5 1x1" in inter.all_text()
    assert inter.files() == [("echo.png", PNG_1x1)]
    # The channel sees the (non-ephemeral) reply, and its attachment is downloadable from the CDN route.
    posted = dd.channel_messages(world.channel)[-1]
    async with aiohttp.ClientSession() as s, s.get(posted["attachments"][0]["url"]) as r:
        assert r.status == 200 and await r.read() == PNG_1x1
    _no_spec_violations(dd)


async def test_defer_then_followup_with_files_embed_button(world: World) -> None:
    dd = world.dd
    inter = await dd.invoke_command("render", {"files": 3, "size": 16}, user=world.alice, guild=world.guild)
    await inter.wait_for_final(timeout=5)
    assert inter.callback_type == 5 and not inter.loading
    assert [(n, b) for n, b in inter.files()] == [(f"img{i}.png", bytes([i]) * 16) for i in range(3)]
    msg = inter.messages[-1]
    assert msg["embeds"][0]["title"] == "Rendered" and "seed" in inter.all_text()
    assert msg["components"][0]["components"][0]["custom_id"] == "again"
    click = await dd.click_button(msg, "again", user=world.alice)
    await click.wait_for_final(timeout=5)
    assert click.callback_type == 4 and click.messages[0]["flags"] & 64
    assert click.all_text() == "clicked again"
    done = await dd.click_button(msg, "done", user=world.alice)
    await done.wait_for_final(timeout=5)
    assert done.callback_type == 7
    edited = dd.messages[int(msg["id"])].payload
    assert edited["content"] == "all done" and edited["components"] == [] and edited["embeds"] == []
    assert len(edited["attachments"]) == 3  # an edit keeps attachments it does not mention
    _no_spec_violations(dd)


@pytest.mark.parametrize(
    ("options", "limit", "expected"),
    [
        ({"files": 11}, None, (400, 50035)),
        ({"files": 1, "size": 2048}, 1024, (413, 40005)),
        ({"files": 1, "text_len": 2001}, None, (400, 50035)),
    ],
    ids=["11-files", "file-over-limit", "2001-chars"],
)
async def test_discord_limits(world: World, options: dict, limit: int | None, expected: tuple[int, int]) -> None:
    dd = world.dd
    if limit is not None:
        world.guild.attachment_size_limit = limit
    inter = await dd.invoke_command("render", options, user=world.alice, guild=world.guild)
    await inter.wait_for_final(timeout=5)
    assert world.outcome.errors == [expected]
    assert inter.rejections and inter.rejections[0].status == expected[0]
    assert dd.limit_rejections and dd.spec_violations == []
    assert "failed" in inter.all_text()


async def test_late_ack_is_unknown_interaction(world: World) -> None:
    inter = await world.dd.invoke_command("late", {"delay": 0.7}, user=world.alice, guild=world.guild)
    await inter.wait_for(lambda e: e.kind == "rejected", timeout=5)
    assert world.outcome.errors == [(404, 10062)]
    assert not inter.acknowledged


async def test_second_ack_and_expired_token(world: World) -> None:
    dd = world.dd
    dd.token_ttl = 0.3
    inter = await dd.invoke_command("say", {"text": "hello", "later": 0.5}, user=world.alice, guild=world.guild)
    await inter.wait_for(lambda e: e.kind == "rejected", timeout=5)
    assert world.outcome.errors == [(401, 50027)]
    url = f"{dd.api_base}/interactions/{inter.id}/{inter.token}/callback"
    async with aiohttp.ClientSession() as s, s.post(url, json={"type": 5}) as r:
        assert r.status == 400 and (await r.json())["code"] == 40060


async def test_edit_original_and_channel_send(world: World) -> None:
    dd = world.dd
    inter = await dd.invoke_command("say", {"text": "hello"}, user=world.alice, guild=world.guild)
    await inter.wait_for(lambda e: e.kind == "original_edit", timeout=5)
    for _ in range(50):
        if dd.channel_messages(world.channel):
            break
        await asyncio.sleep(0.02)
    assert inter.all_text() == "hello (edited)" and inter.messages[0]["flags"] & 64
    assert [m["content"] for m in dd.channel_messages(world.channel)] == ["channel: hello"]
    assert "hello (edited)" in dd.all_outgoing_text()
    _no_spec_violations(dd)


async def test_rate_limit_is_retried_and_upload_failure_surfaces(world: World) -> None:
    dd = world.dd
    dd.rate_limit_next(1, path=r"^/channels/\d+/messages$", retry_after=0.05)
    inter = await dd.invoke_command("say", {"text": "rl"}, user=world.alice, guild=world.guild)
    for _ in range(100):
        if dd.channel_messages(world.channel):
            break
        await asyncio.sleep(0.02)
    statuses = [r.status for r in dd.requests if r.method == "POST" and r.path.startswith("/channels/")]
    assert statuses == [429, 200]
    await inter.wait_for_final(timeout=5)
    dd.fail_uploads(1, status=503)  # discord.py retries a webhook 5xx after 1 s
    inter = await dd.invoke_command("render", {}, user=world.alice, guild=world.guild)
    await inter.wait_for_final(timeout=5)
    uploads = [r.status for r in dd.requests if r.path.startswith("/webhooks/") and r.files]
    assert uploads == [503, 200] and len(inter.files()) == 2
    assert world.outcome.errors == []


async def test_modal_round_trip_with_label(world: World) -> None:
    dd = world.dd
    inter = await dd.invoke_command("ask", user=world.alice, guild=world.guild)
    await inter.wait_for_ack(timeout=5)
    assert inter.modal is not None and inter.modal["title"] == "Describe it"
    sub = await dd.submit_modal(inter.modal["custom_id"], {"prompt": "a fox", "style": "ink"}, user=world.alice)
    await sub.wait_for_final(timeout=5)
    assert sub.all_text() == "you said a fox in ink"
    _no_spec_violations(dd)


async def test_message_context_menu(world: World) -> None:
    dd = world.dd
    target = await dd.post_user_message(
        world.channel,
        world.alice,
        "look",  # type: ignore[arg-type]
        attachments=[("a.png", PNG_1x1, "image/png")],
    )
    inter = await dd.invoke_message_command("Remix", target, user=world.alice)
    await inter.wait_for_final(timeout=5)
    assert inter.all_text() == "remix 1 look"
    assert inter.payload["data"]["type"] == 3 and inter.payload["data"]["target_id"] == target["id"]
    _no_spec_violations(dd)


async def test_spec_violation_and_unhandled_route_are_recorded(world: World) -> None:
    dd = world.dd
    if dd.spec_skip_reason:
        pytest.skip(dd.spec_skip_reason)
    headers = {"Authorization": f"Bot {dd.bot_token}"}
    url = f"{dd.api_base}/channels/{world.channel.id}/messages"
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.post(url, json={"content": "ok", "embeds": [{"title": 5}]}) as r:
            assert r.status == 400 and r.headers["Content-Type"] == "application/json"
            body = await r.json()
        assert body["code"] == 50035 and "embeds" in body["errors"]
        async with s.get(f"{dd.api_base}/guilds/{world.guild.id}/audit-logs") as r:
            assert r.status == 404 and (await r.json())["code"] == 0
        async with s.get(f"{dd.api_base}/users/@me", headers={"Authorization": "Bot wrong"}) as r:
            assert r.status == 401
    assert len(dd.spec_violations) == 1
    v = dd.spec_violations[0]
    assert v["method"] == "POST" and v["path"].endswith("/messages") and v["at"] == ["embeds", 0, "title"]
    assert [u.path for u in dd.unhandled] == [f"/guilds/{world.guild.id}/audit-logs"]


async def test_bot_token_never_recorded_or_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    dd = world.dd
    inter = await dd.invoke_command("say", {"text": "secret-free"}, user=world.alice, guild=world.guild)
    await inter.wait_for_final(timeout=5)
    token = dd.bot_token
    haystacks = [
        repr(dd.requests),
        repr(dd.identify_payloads),
        repr(dd.spec_violations),
        repr(dd.all_outgoing_text()),
        dd.sent_text(),
        caplog.text,
    ]
    assert all(token not in h for h in haystacks)
    assert all(token.split(".")[-1] not in h for h in haystacks)


async def test_missing_spec_is_reported_not_silent(tmp_path) -> None:
    async with DiscordDouble(spec_path=tmp_path / "absent.json") as dd:
        assert dd.spec is None and "NOT validated" in (dd.spec_skip_reason or "")
        headers = {"Authorization": f"Bot {dd.bot_token}"}
        async with aiohttp.ClientSession(headers=headers) as s, s.get(f"{dd.api_base}/users/@me") as r:
            assert r.status == 200 and r.headers["Content-Type"] == "application/json"
            assert (await r.json())["id"] == str(dd.bot_user.id)


def test_history_pages_as_discord_serves_them() -> None:
    from tests.doubles.discord_double.rest import page_of_messages  # noqa: PLC0415

    messages = [{"id": str(i)} for i in range(1, 11)]  # oldest first, as a channel keeps them

    def ids(query: dict[str, str], limit: int = 3) -> list[int]:
        return [int(m["id"]) for m in page_of_messages(messages, query, limit)]

    assert ids({}) == [10, 9, 8]  # the latest, newest first
    assert ids({"before": "5"}) == [4, 3, 2]
    assert ids({"after": "5"}) == [8, 7, 6]  # the ones just after, still newest first
    assert ids({"after": "9"}) == [10]
    assert ids({"around": "5"}, limit=4) == [7, 6, 5, 4]


async def test_a_thread_has_its_channels_permissions_as_they_are_now():
    # Discord: a thread has no overwrites of its own; a change to its channel's applies to it.
    async with DiscordDouble() as dd:
        guild = dd.add_guild("G")
        channel = dd.add_channel(guild, "images")
        thread = dd.add_thread(channel)
        in_threads = 1 << 38
        assert dd.guilds[guild.id].permissions_for(dd.bot_user.id, thread) & in_threads
        bot_denied = {"id": str(dd.bot_user.id), "type": 1, "allow": "0", "deny": str(in_threads)}
        await dd.set_overwrites(channel, [bot_denied])
        assert not dd.guilds[guild.id].permissions_for(dd.bot_user.id, thread) & in_threads
