"""Members with roles for the moderation and approval tests (added before the bot starts, so it knows the roles)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from tests.doubles.discord_double import User
from tests.doubles.discord_double.model import Channel, Role
from tests.e2e.harness import World

MANAGE_GUILD = 1 << 5
MANAGE_MESSAGES = 1 << 13
EPHEMERAL = 1 << 6


@dataclass
class Staff:
    admin: User
    moderator: User
    mods_channel: Channel
    artists: Role  # a plain role, for the required-role setting


def add_staff(w: World) -> Staff:
    dd = w.discord
    admins = dd.add_role(w.guild, "Admins", MANAGE_GUILD)
    mods = dd.add_role(w.guild, "Moderators", MANAGE_MESSAGES)
    artists = dd.add_role(w.guild, "Artists")
    admin, moderator = dd.add_user("admin"), dd.add_user("moderator", global_name="Mod Mia")
    dd.add_member(w.guild, admin, [admins])
    dd.add_member(w.guild, moderator, [mods])
    return Staff(admin, moderator, dd.add_channel(w.guild, "mods"), artists)


def is_ephemeral(inter) -> bool:
    return bool(inter.callback_data and inter.callback_data.get("flags", 0) & EPHEMERAL)


async def eventually(condition: Callable[[], object], timeout: float = 15.0) -> None:
    """Wait until `condition()` is true (work that goes on after an interaction was answered)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)
