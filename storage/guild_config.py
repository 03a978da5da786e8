"""Per-server settings: blocked terms, allowed channels, required role, approval mode, defaults.

The settings of every server are small, read on every request and changed rarely, so they
are loaded once at start (`load`) and kept in memory; `get` is synchronous (building a job
is). Every change is written to SQLite first and then replaces the cached value, so the
cache never holds something the database does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from storage.connection import Database, Transaction

# guild_config columns a caller may set through `update`
_COLUMNS = ("required_role_id", "approval", "approval_channel_id", "default_model", "default_size", "watermark")


@dataclass(frozen=True)
class GuildConfig:
    guild_id: int
    blocked_terms: tuple[str, ...] = ()  # as the admin wrote them; "re:" marks a regular expression
    allowed_channel_ids: tuple[int, ...] = ()  # empty: every channel
    required_role_id: int | None = None
    approval: bool = False
    approval_channel_id: int | None = None
    default_model: str | None = None
    default_size: str | None = None
    watermark: bool | None = None  # None: the bot's IMAGE_WATERMARK setting

    @property
    def needs_approval(self) -> bool:
        return self.approval and self.approval_channel_id is not None


class GuildConfigStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[int, GuildConfig] = {}

    async def load(self) -> None:
        """Read every server's settings into memory (at start)."""
        async with self._db.transaction(write=False) as tx:
            guild_ids = {int(r[0]) for r in await tx.fetchall(
                "SELECT guild_id FROM guild_config UNION SELECT guild_id FROM guild_blocked_terms "
                "UNION SELECT guild_id FROM guild_allowed_channels"
            )}
            self._cache = {guild_id: await _read(tx, guild_id) for guild_id in guild_ids}

    def get(self, guild_id: int) -> GuildConfig:
        return self._cache.get(guild_id) or GuildConfig(guild_id)

    async def update(self, guild_id: int, **values: object) -> GuildConfig:
        """Set some of required_role_id, approval, approval_channel_id, default_model, default_size,
        watermark (None clears a value).

        Only the columns given are written: two admins changing different settings at once
        (one the default model, the other the required role) must not put back each other's
        old value from a cache read before either wrote. The cache then takes the row as stored."""
        unknown = set(values) - set(_COLUMNS)
        if unknown:
            raise TypeError(f"unknown guild setting(s): {sorted(unknown)}")
        columns = [name for name in _COLUMNS if name in values]  # fixed names, in a fixed order
        upsert = f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in columns)}" if columns else "DO NOTHING"
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO guild_config (guild_id{''.join(f', {c}' for c in columns)}) "  # noqa: S608 - fixed names
                f"VALUES (?{', ?' * len(columns)}) ON CONFLICT (guild_id) {upsert}",
                (guild_id, *(_to_sql(values[c]) for c in columns)),
            )
            return await self._refresh(tx, guild_id)

    async def add_term(self, guild_id: int, term: str, *, key: Callable[[str], object] = str) -> bool:
        """Store `term` as written; False when it, or a term with the same `key` (the caller's idea of
        two spellings of one term: moderation's `term_key`), was already on the list."""
        async with self._db.transaction() as tx:
            if any(key(stored) == key(term) for stored in await _terms(tx, guild_id)):
                return False
            added = await tx.execute(
                "INSERT INTO guild_blocked_terms (guild_id, term) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (guild_id, term),
            )
            await self._refresh(tx, guild_id)
        return added > 0

    async def remove_term(self, guild_id: int, term: str, *, key: Callable[[str], object] = str) -> tuple[str, ...]:
        """Remove every stored term with the same `key` as `term` (a list written by an older version
        may hold several spellings of one); the ones removed, as they were written (none: it was not
        on the list)."""
        async with self._db.transaction() as tx:
            removed = tuple(stored for stored in await _terms(tx, guild_id) if key(stored) == key(term))
            for stored in removed:
                await tx.execute("DELETE FROM guild_blocked_terms WHERE guild_id = ? AND term = ?", (guild_id, stored))
            if removed:
                await self._refresh(tx, guild_id)
        return removed

    async def add_channel(self, guild_id: int, channel_id: int) -> bool:
        async with self._db.transaction() as tx:
            added = await tx.execute(
                "INSERT INTO guild_allowed_channels (guild_id, channel_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (guild_id, channel_id),
            )
            await self._refresh(tx, guild_id)
        return added > 0

    async def remove_channel(self, guild_id: int, channel_id: int) -> bool:
        async with self._db.transaction() as tx:
            removed = await tx.execute(
                "DELETE FROM guild_allowed_channels WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
            )
            await self._refresh(tx, guild_id)
        return removed > 0

    async def clear_channels(self, guild_id: int) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM guild_allowed_channels WHERE guild_id = ?", (guild_id,))
            await self._refresh(tx, guild_id)

    async def _refresh(self, tx: Transaction, guild_id: int) -> GuildConfig:
        config = await _read(tx, guild_id)
        self._cache[guild_id] = config
        return config


async def _terms(tx: Transaction, guild_id: int) -> tuple[str, ...]:
    rows = await tx.fetchall("SELECT term FROM guild_blocked_terms WHERE guild_id = ? ORDER BY term", (guild_id,))
    return tuple(str(r[0]) for r in rows)


async def _read(tx: Transaction, guild_id: int) -> GuildConfig:
    row = await tx.fetchone(f"SELECT {', '.join(_COLUMNS)} FROM guild_config WHERE guild_id = ?", (guild_id,))  # noqa: S608
    terms = await _terms(tx, guild_id)
    channels = await tx.fetchall(
        "SELECT channel_id FROM guild_allowed_channels WHERE guild_id = ? ORDER BY channel_id", (guild_id,)
    )
    settings = {}
    if row is not None:
        settings = dict(zip(_COLUMNS, row, strict=True))
        settings["approval"] = bool(settings["approval"])
        if settings["watermark"] is not None:
            settings["watermark"] = bool(settings["watermark"])
    return GuildConfig(
        guild_id,
        blocked_terms=terms,
        allowed_channel_ids=tuple(int(r[0]) for r in channels),
        **settings,
    )


def _to_sql(value: object) -> object:
    return int(value) if isinstance(value, bool) else value
