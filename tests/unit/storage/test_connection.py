from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from storage import Storage, open_storage
from storage.connection import Database
from storage.migrations import MIGRATIONS, split_statements


def test_aiosqlite_still_has_the_private_hook_database_run_uses() -> None:
    # Database.run sends a whole transaction to the connection thread through
    # aiosqlite.Connection._execute; fail loudly here if an upgrade removes it.
    assert callable(getattr(aiosqlite.Connection, "_execute", None))


async def test_pragmas(db_url: str) -> None:
    async with open_storage(db_url) as storage:
        assert (await storage.db.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await storage.db.fetchone("PRAGMA foreign_keys"))[0] == 1
        assert (await storage.db.fetchone("PRAGMA busy_timeout"))[0] == 5000
        assert (await storage.db.fetchone("PRAGMA synchronous"))[0] == 1  # NORMAL


async def test_migrations_set_user_version_and_are_idempotent(db_url: str) -> None:
    async with open_storage(db_url) as storage:
        assert (await storage.db.fetchone("PRAGMA user_version"))[0] == len(MIGRATIONS)
        tables = {r[0] for r in await storage.db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"requests", "usage_member_day", "usage_guild_day"} <= tables
        assert await storage.db.migrate() == len(MIGRATIONS)  # again: nothing to do
    async with open_storage(db_url) as storage:  # and on the next start
        assert (await storage.db.fetchone("PRAGMA user_version"))[0] == len(MIGRATIONS)


async def test_appending_a_migration_applies_only_it(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    db = await Database.open(path)
    await db.close()
    db = await Database.open(path, migrations=(*MIGRATIONS, "CREATE TABLE audit (id INTEGER PRIMARY KEY);"))
    try:
        assert (await db.fetchone("PRAGMA user_version"))[0] == len(MIGRATIONS) + 1
        assert await db.fetchone("SELECT name FROM sqlite_master WHERE name = 'audit'") is not None
    finally:
        await db.close()


async def test_a_failing_migration_leaves_the_database_untouched(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    broken = ("CREATE TABLE a (x INTEGER);", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);")
    with pytest.raises(sqlite3.OperationalError):
        await Database.open(path, migrations=broken)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    with pytest.raises(RuntimeError, match="newer"):
        await Database.open(path)


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    statements = split_statements(MIGRATIONS[0])
    triggers = [s for s in statements if s.startswith("CREATE TRIGGER")]
    assert len(triggers) == 4
    assert all(s.rstrip().endswith("END;") for s in triggers)
    assert all(sqlite3.complete_statement(s) for s in statements)
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE x (a INTEGER); CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1;")


async def test_transaction_rolls_back_on_error(storage: Storage) -> None:
    await storage.db.run(lambda c: c.execute("CREATE TABLE t (x INTEGER)"))
    with pytest.raises(RuntimeError):
        async with storage.db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("boom")

    def fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await storage.db.run(fail)
    assert await storage.db.fetchall("SELECT x FROM t") == []
    with pytest.raises(RuntimeError, match="ended"):
        await tx.execute("SELECT 1")


async def test_coroutines_never_interleave_inside_a_transaction(storage: Storage) -> None:
    """A slow multi-statement transaction is not entered by run() or other transactions."""
    await storage.db.run(lambda c: c.execute("CREATE TABLE log (who TEXT, step INTEGER)"))
    inside = asyncio.Event()

    async def slow(who: str) -> None:
        async with storage.db.transaction() as tx:
            await tx.execute("INSERT INTO log VALUES (?, 1)", (who,))
            inside.set()
            await asyncio.sleep(0.01)
            await tx.execute("INSERT INTO log VALUES (?, 2)", (who,))

    async def quick(who: str) -> None:
        await inside.wait()
        await storage.db.run(lambda c: c.execute("INSERT INTO log VALUES (?, 1)", (who,)))

    await asyncio.gather(slow("a"), quick("q1"), slow("b"), quick("q2"))
    rows = [(r[0], r[1]) for r in await storage.db.fetchall("SELECT who, step FROM log ORDER BY rowid")]
    # each slow transaction's two rows are adjacent
    for who in ("a", "b"):
        i = rows.index((who, 1))
        assert rows[i + 1] == (who, 2)
    assert len(rows) == 6


async def test_cancelled_transaction_is_rolled_back_and_the_connection_stays_usable(storage: Storage) -> None:
    await storage.db.run(lambda c: c.execute("CREATE TABLE t (x INTEGER)"))
    started = asyncio.Event()

    async def victim() -> None:
        async with storage.db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (1)")
            started.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(victim())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await storage.db.run(lambda c: c.execute("INSERT INTO t VALUES (2)"))
    assert [r[0] for r in await storage.db.fetchall("SELECT x FROM t")] == [2]


async def test_group_commit_isolates_a_failing_operation(storage: Storage) -> None:
    await storage.db.run(lambda c: c.execute("CREATE TABLE t (x INTEGER CHECK (x < 100))"))

    def insert(x: int):
        return lambda c: c.execute("INSERT INTO t VALUES (?)", (x,)).rowcount

    def insert_then_fail(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t VALUES (50)")
        raise LookupError("not there")

    results = await asyncio.gather(
        storage.db.run(insert(1)),
        storage.db.run(insert(500)),  # CHECK constraint fails inside the batch
        storage.db.run(insert_then_fail),
        storage.db.run(insert(2)),
        return_exceptions=True,
    )
    assert results[0] == 1
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert isinstance(results[2], LookupError)
    assert results[3] == 1
    assert sorted(r[0] for r in await storage.db.fetchall("SELECT x FROM t")) == [1, 2]


async def test_a_call_cancelled_before_its_batch_starts_is_skipped(storage: Storage) -> None:
    await storage.db.run(lambda c: c.execute("CREATE TABLE t (x INTEGER)"))
    async with storage.db.transaction() as tx:  # holds the connection: run() must queue
        task = asyncio.create_task(storage.db.run(lambda c: c.execute("INSERT INTO t VALUES (1)")))
        await asyncio.sleep(0)
        task.cancel()
        await tx.execute("INSERT INTO t VALUES (2)")
    with pytest.raises(asyncio.CancelledError):
        await task
    await storage.db.run(lambda c: c.execute("INSERT INTO t VALUES (3)"))
    assert sorted(r[0] for r in await storage.db.fetchall("SELECT x FROM t")) == [2, 3]


async def test_close_lets_queued_operations_commit(db_url: str) -> None:
    storage = await open_storage(db_url)
    await storage.db.run(lambda c: c.execute("CREATE TABLE t (x INTEGER)"))
    pending = [
        asyncio.ensure_future(storage.db.run(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (i,))))
        for i in range(20)
    ]
    await asyncio.sleep(0)
    await storage.close()
    await asyncio.gather(*pending)
    with pytest.raises(RuntimeError, match="closed"):
        await storage.db.run(lambda c: c.execute("SELECT 1"))
    async with open_storage(db_url) as reopened:
        assert (await reopened.db.fetchone("SELECT count(*) FROM t"))[0] == 20
