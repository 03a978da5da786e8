"""The one aiosqlite connection and its serialized transactions.

Every statement goes through one connection (one worker thread). An ``asyncio.Lock`` is
held for the whole of each transaction, so no coroutine can slip a statement into
another coroutine's transaction. Write transactions begin with ``BEGIN IMMEDIATE`` so
the write lock is taken before anything is read (no read-then-upgrade deadlock with
another process). The connection is in autocommit mode (``isolation_level=None``): the
sqlite3 module never opens a transaction on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Self, TypeVar

import aiosqlite

from storage.migrations import MIGRATIONS, split_statements

log = logging.getLogger(__name__)

Params = Sequence[Any] | Mapping[str, Any]

DEFAULT_BUSY_TIMEOUT_MS = 5_000

T = TypeVar("T")


def _run_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], begin: str) -> T:
    """Runs on the connection's worker thread: the whole transaction in one thread hop."""
    conn.execute(begin)
    try:
        result = fn(conn)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


class Transaction:
    """Statements run inside one ``Database.transaction()``; unusable once it has ended."""

    __slots__ = ("_active", "_conn")

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._active = True

    def _check(self) -> aiosqlite.Connection:
        if not self._active:
            raise RuntimeError("this transaction has already ended")
        return self._conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        cursor = await self._check().execute(sql, params)
        return cursor.rowcount

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run one statement (SELECT, or a write with RETURNING) and return all rows."""
        return list(await self._check().execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


class Database:
    """One aiosqlite connection with WAL, foreign keys, a busy timeout and migrations."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path

    @classmethod
    async def open(
        cls,
        path: str,
        *,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        migrations: Sequence[str] = MIGRATIONS,
    ) -> Self:
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            db = cls(conn, path)
            await db.migrate(migrations)
        except BaseException:
            await conn.close()
            raise
        return db

    async def migrate(self, migrations: Sequence[str] = MIGRATIONS) -> int:
        """Apply the migrations past ``user_version`` in one transaction; returns the new version."""
        async with self.transaction() as tx:
            row = await tx.fetchone("PRAGMA user_version")
            current = int(row[0]) if row else 0
            target = len(migrations)
            if current > target:
                raise RuntimeError(f"database schema version {current} is newer than this code knows ({target})")
            for version in range(current, target):
                for statement in split_statements(migrations[version]):
                    await tx.execute(statement)
            if target != current:
                await tx.execute(f"PRAGMA user_version = {target}")
                log.info("database migrated from schema version %d to %d", current, target)
        return target

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[Transaction]:
        """Hold the connection for one transaction: committed on success, rolled back on error.

        ``write=True`` (every write) begins with ``BEGIN IMMEDIATE``; ``write=False`` gives a
        consistent read snapshot (``BEGIN DEFERRED``).
        """
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
            tx = Transaction(self._conn)
            try:
                yield tx
                tx._active = False
                await self._conn.execute("COMMIT")
            except BaseException:
                tx._active = False
                # Shielded: a second cancellation must not leave the transaction open. The
                # worker thread runs statements in order, so ROLLBACK still precedes the
                # next holder's BEGIN even if we stop waiting for it.
                with contextlib.suppress(sqlite3.OperationalError):  # already ended (e.g. COMMIT ran)
                    await asyncio.shield(self._conn.execute("ROLLBACK"))
                raise

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        """Run ``fn(conn)`` as one transaction in a single hop to the connection's thread.

        The same discipline as ``transaction()`` (the lock; ``BEGIN IMMEDIATE`` for writes;
        COMMIT, or ROLLBACK if ``fn`` raises) but the statements run back to back on the
        worker thread instead of one event-loop round trip each, which is what makes the
        ledger fast: on a 2-core VM a round trip costs ~60-80 us, more than the SQL.
        ``fn`` must be quick, synchronous SQLite work: it blocks every other database user.
        Cancelling the caller does not interrupt ``fn``; it commits or rolls back whole.
        """
        begin = "BEGIN IMMEDIATE" if write else "BEGIN DEFERRED"
        conn = self._conn

        def call() -> T:
            return _run_transaction(conn._conn, fn, begin)

        # aiosqlite has no public "run this callable on the connection thread"; its private
        # ``_execute`` is what every public method uses (pinned by a test in test_connection).
        if not self._lock.locked():
            # No multi-statement transaction is open, and ``_execute`` enqueues before its
            # first await while the worker runs calls strictly in order: this transaction
            # finishes before any later BEGIN. Skipping the lock saves a task switch per call.
            return await conn._execute(call)
        async with self._lock:
            return await conn._execute(call)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """One read statement, run between transactions (never inside another's)."""
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()
