"""/history of a request in progress agrees with /usage and /budget show: it names what it holds.

It used to list that request as "in progress · $0.00" while both others said "$0.162 is held for
requests in progress": the one report that names the request said it cost nothing.
"""

from __future__ import annotations

import asyncio

from tests.doubles.image_gateway_double import Fault
from tests.e2e.test_admin_quotas import budget, server


async def test_history_of_a_request_in_progress_shows_what_it_holds(tmp_path):
    async with server(tmp_path, image_timeout_seconds=3, image_max_retries=0, default_monthly_usd="1") as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "1"})
        w.gateway.script(Fault.hang())
        slow = await w.discord.invoke_command("imagine", {"prompt": "slow"}, user=w.alice, guild=w.guild,
                                              channel=w.channel)
        await asyncio.sleep(0.5)
        usage = (await w.run("usage", {})).all_text()
        shown = (await budget(w, "show", {})).all_text()
        history = (await w.run("history", {})).all_text()
        await slow.wait_for_final(timeout=10, quiet=0.5)
        assert "Of which $0.162 is held for requests in progress" in usage  # passes today
        assert "Of which $0.162 is held for requests in progress" in shown  # passes today
        [line] = [line for line in history.splitlines() if "· slow" in line]
        assert "in progress" in line
        assert "$0.162" in line, (
            "A member who reads /usage ('$0.162 is held') expects /history to show that request's held "
            f"$0.162 too (e.g. 'in progress · $0.162 held'), not a cost of $0.00: {line!r}"
        )
