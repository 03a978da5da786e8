"""The texts a member or an admin reads agree with what the bot does, and with each other about
the same request, end to end.
"""

from __future__ import annotations

import re

from i18n import en
from tests.doubles.image_gateway_double import Fault
from tests.e2e.test_admin_quotas import quota, server

SEEDREAM_5 = "doubao-seedream-5-0-260128"


def history_line(text: str, prompt: str) -> str:
    [line] = [line for line in text.splitlines() if line.endswith(f"· {prompt}")]
    return line


async def test_quota_exempt_confirmation_does_not_promise_no_limit_to_members_with_their_own(tmp_path):
    # An admin makes @VIP exempt. A member's own setting comes first (README: "the member's own
    # setting; the most generous of the member's roles (an exempt role: unlimited)..."), so a VIP
    # with a daily limit of 1 of their own is still refused at the 2nd image: the confirmation used
    # to promise "its members have no daily or monthly limit"; it says their own settings apply.
    async with server(tmp_path) as w:
        vip = w.discord.add_role(w.guild, "VIP")
        w.discord.add_member(w.guild, w.alice, roles=[vip])
        await w.start_bot()
        await quota(w, "set", {"member": w.alice, "daily_images": 1})
        said = (await quota(w, "exempt", {"role": vip})).all_text()

        await w.run("imagine", {"prompt": "a cat"})
        second = (await w.run("imagine", {"prompt": "a dog"})).all_text()
        assert "daily limit" in second, second  # her own setting comes first, as the README says
        assert "A limit set for one member still applies to that member." in said, said


async def test_history_gives_the_same_reason_as_the_reply_for_a_proxy_gateway_timeout(tmp_path):
    # A proxy's 504 (an HTML page, no error code): the member is told "The image service took too
    # long to answer"; /history listed the same request as "the service was busy" (the stored code
    # was "InternalServerError"). It is kept as a gateway timeout, and said so in both.
    async with server(tmp_path) as w:
        await w.start_bot()
        w.gateway.script(Fault.html(504))
        reply = (await w.run("imagine", {"prompt": "a lighthouse"})).all_text()
        assert "took too long" in reply, reply
        line = history_line((await w.run("history", {})).all_text(), "a lighthouse")
        assert en.TEXTS["history.reason.timeout"] in line, line  # "the service took too long"
        assert en.TEXTS["history.reason.busy"] not in line, line


async def test_spend_does_not_report_images_of_an_unpriced_model_as_free(tmp_path):
    # aiearth publishes no prices and none is set: the result says "cost not known", /history too,
    # /usage warns that such images count as $0; /spend, the admins' money report, said "· Seedream
    # 5.0 Lite: $0.00 (1 image)" with no word that the price is unknown.
    async with server(tmp_path, flavour="aiearth") as w:
        await w.start_bot()
        result = (await w.run("imagine", {"prompt": "a cat", "model": SEEDREAM_5})).all_text()
        assert "not known" in result, result
        history = (await w.run("history", {})).all_text()
        assert "cost not known" in history, history

        report = (await w.run("spend", {}, user=w.admin, timeout=30)).all_text()
        per_model = [line for line in report.splitlines() if "Seedream 5.0 Lite" in line]
        assert per_model, report
        assert "cost not known" in per_model[0], report
        assert "without a price set count as $0 here" in report, report


async def test_result_usage_history_and_spend_agree_on_a_partly_filtered_request(tmp_path):
    # Two images asked, the content filter refuses one: the result, /usage,
    # /history and /spend all state the same $0.162 and the same 1 image.
    async with server(tmp_path, default_daily_images=10) as w:
        await w.start_bot()
        w.gateway.script(Fault.partial([1], count=2))
        result = (await w.run("imagine", {"prompt": "a cow", "count": 2})).all_text()
        assert "· 1 image · cost $0.162" in result, result
        assert "1 of 2 were refused by the content filter and not charged." in result, result
        assert "Left for you: 9 images today." in result, result

        usage = (await w.run("usage", {})).all_text()
        assert "Images today: 1 of 10" in usage and "Spent this month: $0.162" in usage, usage
        line = history_line((await w.run("history", {})).all_text(), "a cow")
        assert "delivered 1 of 2 · $0.162" in line, line
        report = (await w.run("spend", {}, user=w.admin, timeout=30)).all_text()
        assert "Total spend: $0.162 (charged to members for delivered images: $0.162)" in report, report
        assert "Images billed: 1, delivered: 1" in report, report


async def test_every_command_a_text_names_is_registered(tmp_path):
    # Every "/command sub" and `option` an English text tells a reader to use
    # exists in what the bot registered with Discord.
    async with server(tmp_path) as w:
        await w.start_bot()
        named = set()
        for text in en.TEXTS.values():
            named |= set(re.findall(r"/([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", text))
        for command, sub in sorted(named):
            definition = w.discord.commands.find(command, guild_id=w.guild.id)
            assert definition is not None, f"/{command} is named in a text but not registered"
            subs = {option["name"]: option for option in definition.get("options", []) if option["type"] in (1, 2)}
            if sub and subs:
                assert sub in subs, f"/{command} {sub} is named in a text but not registered"
        budget_set = {o["name"]: o for o in w.discord.commands.find("budget", guild_id=w.guild.id)["options"]}["set"]
        assert "warn_channel" in {o["name"] for o in budget_set["options"]}
        quota_set = {o["name"]: o for o in w.discord.commands.find("quota", guild_id=w.guild.id)["options"]}["set"]
        assert "clear" in {o["name"] for o in quota_set["options"]}
