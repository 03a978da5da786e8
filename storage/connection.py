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
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import aiosqlite

from storage.migrations import MIGRATIONS, split_statements

log = logging.getLogger(__name__)

Params = Sequence[Any] | Mapping[str, Any]

DEFAULT_BUSY_TIMEOUT_MS = 5_000

T = TypeVar("T")


class NewerSchema(RuntimeError):
    """The database was written by a newer version of the bot (an upgrade rolled back)."""


MAX_BATCH = 256  # operations per group commit


@dataclass(slots=True)
class _Op:
    fn: Callable[[sqlite3.Connection], Any]
    write: bool
    future: asyncio.Future[Any]
    ok: bool = False
    value: Any = None  # fn's result, or the exception it raised


def _run_batch(conn: sqlite3.Connection, ops: list[_Op]) -> None:
    """Worker thread: one transaction for the batch, a savepoint per operation.

    An operation that raises is rolled back to its savepoint and gets its exception; the
    others are unaffected. If the transaction as a whole fails (COMMIT, or SQLite aborting
    it, e.g. disk full) every operation gets that error: none of them was committed.
    """
    conn.execute("BEGIN IMMEDIATE" if any(op.write for op in ops) else "BEGIN DEFERRED")
    try:
        for op in ops:
            conn.execute("SAVEPOINT op")
            try:
                op.value, op.ok = op.fn(conn), True
            except Exception as exc:
                if not conn.in_transaction:
                    raise  # SQLite already rolled the whole transaction back
                conn.execute("ROLLBACK TO op")
                op.value, op.ok = exc, False
            conn.execute("RELEASE op")
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        for op in ops:
            op.ok, op.value = False, exc


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
        self._queue: list[_Op] = []  # run() calls waiting for the next group commit
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
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
                raise NewerSchema(f"database schema version {current} is newer than this code knows ({target})")
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
        """Run ``fn(conn)`` atomically on the connection's thread and return its result.

        ``fn`` is quick, synchronous SQLite work; if it raises, its changes are rolled back
        and the exception re-raised here. Calls made while a batch is in flight are group-
        committed: the next batch runs them back to back in one ``BEGIN IMMEDIATE``
        transaction, each inside its own SAVEPOINT, in one hop to the worker thread, under
        the same lock as ``transaction()``. A result is returned only after COMMIT. On a
        2-core VM a loop<->thread round trip (~60-80 us) and a WAL commit cost more than the
        ledger's SQL, so this is what lifts throughput. ``write=False`` marks a pure read.
        A call cancelled before its batch starts is skipped; once started it completes.
        """
        if self._closed:
            raise RuntimeError("the database is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Op(fn, write, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="storage-group-commit")
        return await future

    async def _flush(self) -> None:
        while self._queue:
            ops = [op for op in self._queue[:MAX_BATCH] if not op.future.done()]
            del self._queue[:MAX_BATCH]
            if not ops:
                continue
            try:
                async with self._lock:
                    conn = self._conn
                    # aiosqlite has no public "run this callable on the connection thread";
                    # its private ``_execute`` is what all its public methods use (a test in
                    # test_connection pins it).
                    await conn._execute(_run_batch, conn._conn, ops)
            except BaseException as exc:  # e.g. the connection is closed
                for op in ops:
                    if not op.future.done():
                        op.future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for op in ops:
                if op.future.done():
                    continue
                if op.ok:
                    op.future.set_result(op.value)
                else:
                    op.future.set_exception(op.value)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """One read statement, run between transactions (never inside another's)."""
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def close(self) -> None:
        self._closed = True
        if self._flusher is not None and not self._flusher.done():
            await self._flusher  # let queued operations commit
        async with self._lock:
            await self._conn.close()
