"""/history's lookup of a server's approvals grows with their number, not with its square.

`ApprovalStore.latest_without_request` checks each approval, newest first, for an audit entry
linking it to a ledger row (a correlated NOT EXISTS). Without an index on the entry's target it
walked the server's whole audit log once per approval (2,000 approvals 0.6 s, 8,000 approvals
11.3 s, under the one database lock). Not a timed test: it counts SQLite VM steps, which are
deterministic; four times the approvals must cost about four times the steps, not sixteen.
"""

from __future__ import annotations

import time

from storage.approvals import ApprovalStore
from storage.connection import Database

GUILD = 77
JOB = '{"prompt": "a cat", "model": "doubao-seedream-4-0-250828", "count": 1}'


async def _steps(tmp_path, n: int) -> int:
    db = await Database.open(str(tmp_path / f"approvals-{n}.db"))
    try:
        now = int(time.time() * 1000)

        def fill(conn):
            conn.executemany(
                "INSERT INTO approvals (id, guild_id, channel_id, user_id, job, status, created_at)"
                " VALUES (?, ?, 1, ?, ?, 'approved', ?)",
                [(i, GUILD, 1000 + i % 50, JOB, now - (n - i) * 1000) for i in range(1, n + 1)],
            )
            conn.executemany(  # what cogs.approval._audit writes for an approved request that ran
                "INSERT INTO audit_log (guild_id, actor_id, action, target, old_value, new_value, request_id,"
                " created_at) VALUES (?, 5, 'request.approved', ?, 'pending', 'approved', ?, ?)",
                [(GUILD, f"approval:{i}", i, now) for i in range(1, n + 1)],
            )

        await db.run(fill)
        counter = {"calls": 0}

        def tick() -> int:
            counter["calls"] += 1
            return 0

        raw = db._conn._conn  # the sqlite3 connection, set on aiosqlite's own thread
        await db._conn._execute(raw.set_progress_handler, tick, 100)
        await ApprovalStore(db).latest_without_request(GUILD, limit=10)  # /history, server view
        await db._conn._execute(raw.set_progress_handler, None, 0)
        return counter["calls"]
    finally:
        await db.close()


async def test_history_approval_lookup_grows_linearly_with_the_servers_approvals(tmp_path):
    small = await _steps(tmp_path, 300)
    large = await _steps(tmp_path, 1200)  # 4x the approvals
    assert large <= 6 * small, f"{small} -> {large} VM steps (x{large / small:.1f}) for 4x the approvals"
