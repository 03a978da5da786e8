"""The budget warning when the budget refuses with less than one image's price left: the cheapest
model's price, not the refused request's."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.staff import eventually
from tests.e2e.test_admin_quotas import budget, server

CHEAP, DEAR = "doubao-seedream-4-0-250828", "doubao-seedream-4-5-251128"
PRICES = {CHEAP: Decimal("0.10"), DEAR: Decimal("0.25"), "doubao-seedream-5-0-260128": Decimal("0.25")}


async def test_a_refusal_for_a_dear_model_does_not_announce_the_budget_exhausted(tmp_path):
    # Budget $0.50, warning at 100% in #mods. $0.30 spent (3 images of Seedream 4.0 at
    # $0.10). bob asks for one image of Seedream 4.5 ($0.25): refused, rightly. The bot then posts
    # used to post "less than one image's price is left" - while $0.20, two images of the $0.10
    # model, were still left - and that took the month's 100% warning, so none came when the
    # budget really was used up. No such post while a model still fits; the 100% warning at 100%.
    async with server(tmp_path, image_prices=PRICES) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "0.50", "warn_percent": 100, "warn_channel": mods})
        made = await w.run("imagine", {"prompt": "a", "count": 3, "model": CHEAP})
        assert len(made.files()) == 3, made.all_text()
        refused = await w.run("imagine", {"prompt": "b", "model": DEAR}, user=w.bob)
        assert "budget" in refused.all_text(), refused.all_text()
        still = await w.run("imagine", {"prompt": "c", "count": 2, "model": CHEAP})
        assert len(still.files()) == 2, still.all_text()  # $0.50: the budget is only now used up
        await eventually(lambda: w.discord.channel_messages(mods))
        texts = [m.get("content") or "" for m in w.discord.channel_messages(mods)]
        assert not any("less than one image's price is left" in t and "$0.30" in t for t in texts), texts
        assert any("$0.50" in t and "100%" in t for t in texts), texts
