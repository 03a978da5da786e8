"""Quota rules per server (members and roles, exempt roles) and the server's monthly budget.

A rule is what an admin set for one member or one role: a daily image quota and/or a
monthly USD limit (None = not set at this level), and for roles an exemption (unlimited).
How rules combine into a member's limits is `pipeline.limits`; this module only stores them.
Every change is made and audited in one transaction (`storage.audit.write_entry`, `add_entry`).

The @everyone role has the server's id; a rule on it is the server's default for everyone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from image_gateway.money import format_usd
from storage.audit import add_entry, write_entry
from storage.connection import Database
from storage.models import epoch_ms, utc_now

TargetKind = Literal["member", "role"]


@dataclass(frozen=True)
class QuotaRule:
    kind: TargetKind
    target_id: int
    daily_images: int | None = None
    monthly_micros: int | None = None
    exempt: bool = False

    @property
    def is_empty(self) -> bool:
        return self.daily_images is None and self.monthly_micros is None and not self.exempt

    @property
    def target(self) -> str:
        return f"{self.kind}:{self.target_id}"

    def describe(self) -> str:
        """Locale-neutral text for the audit log."""
        parts = []
        if self.daily_images is not None:
            parts.append(f"daily_images={self.daily_images}")
        if self.monthly_micros is not None:
            parts.append(f"monthly_usd={format_usd(self.monthly_micros)}")
        if self.exempt:
            parts.append("exempt")
        return ", ".join(parts) or "none"


@dataclass(frozen=True)
class Budget:
    monthly_micros: int
    warn_percent: int | None = None
    warn_channel_id: int | None = None

    def describe(self) -> str:
        text = f"monthly_usd={format_usd(self.monthly_micros)}"
        if self.warn_percent is not None:
            text += f", warn_at={self.warn_percent}% in channel:{self.warn_channel_id}"
        return text


@dataclass(frozen=True)
class MemberRules:
    """Everything that can apply to one member in one server, read in one go."""

    member: QuotaRule | None
    roles: tuple[QuotaRule, ...]  # rules of the member's roles, @everyone excluded
    server: QuotaRule | None  # the @everyone rule: the server's default
    budget: Budget | None


_RULE_COLUMNS = "target_kind, target_id, daily_images, monthly_micros, exempt"


def _rule(row: sqlite3.Row) -> QuotaRule:
    return QuotaRule(row[0], row[1], row[2], row[3], bool(row[4]))


def _read_rule(conn: sqlite3.Connection, guild_id: int, kind: TargetKind, target_id: int) -> QuotaRule | None:
    row = conn.execute(
        f"SELECT {_RULE_COLUMNS} FROM quota_rules WHERE guild_id = ? AND target_kind = ? AND target_id = ?",  # noqa: S608
        (guild_id, kind, target_id),
    ).fetchone()
    return None if row is None else _rule(row)


_BUDGET_SQL = "SELECT monthly_micros, warn_percent, warn_channel_id FROM guild_budgets WHERE guild_id = ?"


def _read_budget(conn: sqlite3.Connection, guild_id: int) -> Budget | None:
    row = conn.execute(_BUDGET_SQL, (guild_id,)).fetchone()
    return None if row is None else Budget(row[0], row[1], row[2])


class QuotaStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Counts the changes written through this store (one bot process owns the database): a
        # request admitted under other limits reads them again only when it moved.
        self.revision = 0

    async def rules_for(self, guild_id: int, user_id: int, role_ids: Iterable[int]) -> MemberRules:
        roles = sorted({int(r) for r in role_ids} - {guild_id})

        def read(conn: sqlite3.Connection) -> MemberRules:
            marks = ", ".join("?" * len(roles)) or "NULL"
            rows = conn.execute(
                f"SELECT {_RULE_COLUMNS} FROM quota_rules WHERE guild_id = ? AND ("  # noqa: S608
                f"(target_kind = 'member' AND target_id = ?) OR (target_kind = 'role' AND target_id IN ({marks}))"
                " OR (target_kind = 'role' AND target_id = ?))",
                (guild_id, user_id, *roles, guild_id),
            ).fetchall()
            rules = [_rule(row) for row in rows]
            member = next((r for r in rules if r.kind == "member"), None)
            server = next((r for r in rules if r.kind == "role" and r.target_id == guild_id), None)
            role_rules = tuple(r for r in rules if r.kind == "role" and r.target_id != guild_id)
            return MemberRules(member, role_rules, server, _read_budget(conn, guild_id))

        return await self._db.run(read, write=False)

    async def rule(self, guild_id: int, kind: TargetKind, target_id: int) -> QuotaRule | None:
        return await self._db.run(lambda conn: _read_rule(conn, guild_id, kind, target_id), write=False)

    async def all_rules(self, guild_id: int) -> list[QuotaRule]:
        rows = await self._db.fetchall(
            f"SELECT {_RULE_COLUMNS} FROM quota_rules WHERE guild_id = ? ORDER BY target_kind, target_id",  # noqa: S608
            (guild_id,),
        )
        return [_rule(row) for row in rows]

    async def update_rule(
        self,
        guild_id: int,
        kind: TargetKind,
        target_id: int,
        change: Callable[[QuotaRule], QuotaRule],
        *,
        actor_id: int,
        action: str = "quota.set",
    ) -> tuple[QuotaRule | None, QuotaRule | None]:
        """Read the rule, apply ``change``, store the result (an empty rule is deleted) and audit
        it, all in one transaction. Returns (old, new); None stands for "no rule"."""

        def tx(conn: sqlite3.Connection) -> tuple[QuotaRule | None, QuotaRule | None]:
            old = _read_rule(conn, guild_id, kind, target_id)
            new: QuotaRule | None = change(old or QuotaRule(kind, target_id))
            if new.kind != kind or new.target_id != target_id:
                raise ValueError("a rule change cannot move the rule to another target")
            if new.is_empty:
                new = None
                conn.execute(
                    "DELETE FROM quota_rules WHERE guild_id = ? AND target_kind = ? AND target_id = ?",
                    (guild_id, kind, target_id),
                )
            else:
                conn.execute(
                    "INSERT INTO quota_rules (guild_id, target_kind, target_id, daily_images, monthly_micros,"
                    " exempt, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
                    " daily_images = excluded.daily_images, monthly_micros = excluded.monthly_micros,"
                    " exempt = excluded.exempt, updated_at = excluded.updated_at",
                    (guild_id, kind, target_id, new.daily_images, new.monthly_micros, int(new.exempt),
                     epoch_ms(utc_now())),
                )
            if old != new:
                write_entry(conn, guild_id, actor_id, action, f"{kind}:{target_id}",
                            old.describe() if old else None, new.describe() if new else None)
            return old, new

        try:
            return await self._db.run(tx)
        finally:
            self.revision += 1

    async def budget(self, guild_id: int) -> Budget | None:
        return await self._db.run(lambda conn: _read_budget(conn, guild_id), write=False)

    async def set_budget(
        self, guild_id: int, budget: Budget | None, *, actor_id: int
    ) -> tuple[Budget | None, Budget | None]:
        """Set (or with None remove) the server's monthly budget; audited. Returns (old, new)."""
        return await self.update_budget(guild_id, lambda _old: budget, actor_id=actor_id)

    async def update_budget(
        self, guild_id: int, change: Callable[[Budget | None], Budget | None], *, actor_id: int
    ) -> tuple[Budget | None, Budget | None]:
        """Read the server's budget, apply ``change`` (None: no budget of its own), store and audit
        the result, all in one transaction: two admins at once each build on what the other wrote
        (an amount-only change keeps the warning the other set a moment before). ``change`` runs
        on the event loop while the transaction is open, so it may look at Discord's cache and
        raise to refuse (nothing is written then); it must be quick. Returns (old, new)."""
        try:
            async with self._db.transaction() as tx:
                row = await tx.fetchone(_BUDGET_SQL, (guild_id,))
                old = None if row is None else Budget(row[0], row[1], row[2])
                new = change(old)
                if new is None:
                    await tx.execute("DELETE FROM guild_budgets WHERE guild_id = ?", (guild_id,))
                else:
                    await tx.execute(
                        "INSERT INTO guild_budgets (guild_id, monthly_micros, warn_percent, warn_channel_id,"
                        " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
                        " monthly_micros = excluded.monthly_micros, warn_percent = excluded.warn_percent,"
                        " warn_channel_id = excluded.warn_channel_id, updated_at = excluded.updated_at",
                        (guild_id, new.monthly_micros, new.warn_percent, new.warn_channel_id, epoch_ms(utc_now())),
                    )
                if old != new:
                    await add_entry(tx, guild_id, actor_id, "budget.set", "guild",
                                    old.describe() if old else None, new.describe() if new else None)
                if _limits(old) != _limits(new):  # a new amount or share: its warning may come again
                    await tx.execute("DELETE FROM budget_warnings WHERE guild_id = ?", (guild_id,))
                return old, new
        finally:
            self.revision += 1

    async def claim_warning(self, guild_id: int, month: str, warn_percent: int, *, now: datetime | None = None) -> bool:
        """True exactly once per server, month ("2026-11") and threshold: the caller then warns."""
        sent = epoch_ms(now or utc_now())
        return await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO budget_warnings (guild_id, month, warn_percent, sent_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (guild_id, month, warn_percent, sent),
            ).rowcount
            == 1
        )


    async def unclaim_warning(self, guild_id: int, month: str, warn_percent: int) -> None:
        """The warning `claim_warning` gave out could not be posted: the next settle tries again."""
        await self._db.run(
            lambda conn: conn.execute(
                "DELETE FROM budget_warnings WHERE guild_id = ? AND month = ? AND warn_percent = ?",
                (guild_id, month, warn_percent),
            )
        )


def _limits(budget: Budget | None) -> tuple[int, int | None] | None:
    return None if budget is None else (budget.monthly_micros, budget.warn_percent)
