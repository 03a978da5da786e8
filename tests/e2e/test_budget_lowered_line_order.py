"""A budget lowered while a line waits must refuse the back of the line, not the front.

Six members ask for one image each, one runs at a time; while the first runs, the owner lowers the
budget to three images. First come, first served: the first three are made, the last three are
refused. The ledger's recheck at a request's turn (storage/ledger.py `recheck`) counts the
reservations of the requests still waiting *behind* it, so the front of the line is refused and
the back is served.
"""

from __future__ import annotations

import asyncio

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.test_queue import FAST, submit

MANAGE_GUILD = 1 << 5


async def test_a_budget_lowered_while_members_wait_serves_the_line_in_order(tmp_path):
    async with world(tmp_path, start=False, gateway={"latency": 0.1}, max_concurrent_requests=1, **FAST) as w:
        d = w.discord
        admins = d.add_role(w.guild, "Admins", MANAGE_GUILD)
        admin = d.add_user("admin")
        d.add_member(w.guild, admin, roles=[admins])
        people = [w.alice, w.bob] + [d.add_user(n) for n in ("carol", "dave", "erin", "frank")]
        for user in people[2:]:
            d.add_member(w.guild, user)
        await w.start_bot()
        w.gateway.script(Fault.delay(1.5), times=1)  # alice's keeps the only slot while the owner acts
        handles = [await submit(w, user, f"{user.username}'s picture") for user in people]
        set_budget = await d.invoke_command("budget", {"amount": "0.486"}, user=admin, guild=w.guild,
                                            channel=w.channel, subcommand="set")  # three images in all
        await set_budget.wait_for_final(timeout=10)
        assert "$0.486" in set_budget.all_text(), set_budget.all_text()
        async with asyncio.timeout(20):
            while w.bot.queue._places:
                await asyncio.sleep(0.05)
        for h in handles:
            await h.wait_for_final(timeout=10)
        rows = await w.ledger_rows()
        outcome = [(r["prompt"].split("'")[0], r["status"], r["error_code"]) for r in rows]
        made = [r["prompt"].split("'")[0] for r in rows if r["status"] == "settled"]
        assert sum(r["cost_micros"] for r in rows) <= 486_000
        assert made == ["alice", "bob", "carol"], (
            f"the budget left room for three images; first come, first served should make alice's, bob's "
            f"and carol's, but made {made}: {outcome}; bob saw {handles[1].all_text()!r}")
