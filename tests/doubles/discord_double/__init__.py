"""A Discord double for end-to-end tests: REST (/api/v10), gateway websocket and CDN on loopback.

Point the real discord.py at it::

    async with DiscordDouble() as dd:
        guild = dd.add_guild("Test", locale="en-US")
        channel = dd.add_channel(guild, "general")
        alice = dd.add_user("alice")
        dd.add_member(guild, alice)
        discord.http.Route.BASE = dd.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(dd.gateway_url)
        await bot.login(dd.bot_token); task = asyncio.create_task(bot.connect())
        await dd.wait_until_ready()
        inter = await dd.invoke_command("imagine", {"prompt": "a cat"}, user=alice, guild=guild)
        await inter.wait_for_final()
        assert inter.files()
"""

from .cdn import StoredAttachment
from .faults import Fault
from .interactions import InteractionEvent, InteractionHandle
from .messages import MessageRecord
from .model import Channel, Guild, Member, Role, User
from .server import DiscordDouble, LoggedRequest
from .spec import DEFAULT_SPEC_PATH

__all__ = [
    "DEFAULT_SPEC_PATH",
    "Channel",
    "DiscordDouble",
    "Fault",
    "Guild",
    "InteractionEvent",
    "InteractionHandle",
    "LoggedRequest",
    "Member",
    "MessageRecord",
    "Role",
    "StoredAttachment",
    "User",
]
