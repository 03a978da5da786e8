"""/spend naming the requests still in progress, and turning approval mode off telling how many
reviews still wait, as owners read them."""

from __future__ import annotations

from decimal import Decimal

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import add_staff, eventually
from tests.e2e.test_approval_queue import ask
from tests.e2e.test_queue import FAST, submit


async def test_spend_does_not_call_an_unpriced_request_in_progress_free(tmp_path):
    # aiearth publishes no price and the operator set none for Seedream 5.0 Lite: the
    # bot records $0 and says so everywhere as "cost not known (no price set)" (/history, results)
    # or "count as $0 here; the gateway may still bill them" (/usage, /spend's per-model lines)
    # rather than "$0.00", which reads as free. While alice's 4 images are being made, the owner's
    # /spend says "Still in progress: 1 request holding $0.00, in the total only once it ends." -
    # the gateway is billing 4 images and nothing on that line says their cost is not known
    # (cogs/reports.py `_summary`, the `spend.in_progress` line formats `held_micros` as it is).
    async with world(tmp_path, start=False, flavour="aiearth", **FAST) as w:
        staff = add_staff(w)
        await w.start_bot()
        w.gateway.script(Fault.delay(3.0), times=4)  # aiearth takes no "n": one call per image
        inter = await w.discord.invoke_command("imagine", {"prompt": "four owls", "count": 4}, user=w.alice,
                                               guild=w.guild, channel=w.channel)  # fmt: skip
        await inter.wait_for_ack()
        await eventually(lambda: len(w.gateway.generation_requests) >= 1)
        spend = (await w.run("spend", {}, user=staff.admin, timeout=20)).all_text()
        [line] = [line for line in spend.splitlines() if line.startswith("Still in progress")]
        assert line == "Still in progress: 1 request of models without a price set, in the total only once it ends."
        await inter.wait_for_final(timeout=10)


async def test_spend_in_progress_and_approval_off_in_both_languages(tmp_path):
    # A priced request at the gateway: /spend names it and what it holds, in English
    # and Chinese. With one review waiting, turning approval mode off says it still waits in #mods.
    price = {"doubao-seedream-5-0-260128": Decimal("0.135")}
    async with world(tmp_path, start=False, flavour="aiearth", image_prices=price, **FAST) as w:
        staff = add_staff(w)
        await w.start_bot()
        w.gateway.script(Fault.delay(2.5), times=1)
        running = await submit(w, w.alice, "two owls")
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        en = (await w.run("spend", {}, user=staff.admin, timeout=20)).all_text()
        zh = (await w.run("spend", {}, user=staff.admin, locale="zh-CN", timeout=20)).all_text()
        assert "Still in progress: 1 request holding $0.135, in the total only once it ends." in en, en
        assert "仍在进行：1 个请求，预留 $0.135，结束后才计入总花费。" in zh, zh
        await running.wait_for_final(timeout=10)

        on = await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                         subcommand="approval")  # fmt: skip
        assert "wait for a moderator" in on.all_text()
        await ask(w, w.bob, "an owl for review")
        off = await w.run("settings", {"mode": "off"}, user=staff.admin, subcommand="approval", locale="zh-CN")
        told = off.all_text()
        assert f"之前提交的 1 个请求仍在 <#{staff.mods_channel.id}> 等待版主批准或拒绝" in told, told
