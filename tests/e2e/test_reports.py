"""/spend and /history through the real bot: exact CSV, a real PNG, who may see what."""

from __future__ import annotations

import csv
import gzip
import io
import random
from decimal import Decimal

from PIL import Image

from tests.e2e.test_admin_quotas import MANAGE_GUILD, is_ephemeral, quota, server

MANAGE_MESSAGES = 1 << 13
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIB = 1024 * 1024
INSERT = (
    "INSERT INTO requests (guild_id, channel_id, user_id, command, model, size, prompt, images_requested,"
    " images_billed, images_delivered, unit_price_micros, reserved_micros, cost_micros, charged_micros,"
    " status, error_code, created_at, settled_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


async def spend(w, options, user=None):
    return await w.run("spend", options, user=user or w.admin, timeout=30)


def csv_rows(inter) -> list[dict[str, str]]:
    [(_name, data)] = [f for f in inter.files() if f[0].endswith(".csv")]
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def png_bytes(inter) -> bytes:
    [(_name, data)] = [f for f in inter.files() if f[0].endswith(".png")]
    return data


async def make_some_spend(w):
    await w.run("imagine", {"prompt": "a cat", "count": 3})
    await w.run("imagine", {"prompt": "=HYPERLINK(\"x\") lighthouse"}, user=w.bob)
    await w.run("imagine", {"prompt": "a dog", "model": "doubao-seedream-4-5-251128", "count": 2}, user=w.bob)
    await w.run("imagine", {"prompt": "something forbidden"})  # refused by the gateway: released, $0


async def test_spend_report_csv_adds_up_to_the_ledger_and_the_chart_is_a_png(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        await make_some_spend(w)
        inter = await spend(w, {"period": "month"})
        assert is_ephemeral(inter)
        ledger = await w.ledger_rows()
        total = sum(r["cost_micros"] for r in ledger)
        assert total > 0

        rows = csv_rows(inter)
        assert [int(r["request_id"]) for r in rows] == [r["id"] for r in ledger]
        assert sum(Decimal(r["cost_usd"]) for r in rows) * 1_000_000 == total
        assert sum(Decimal(r["charged_usd"]) for r in rows) * 1_000_000 == sum(r["charged_micros"] for r in ledger)
        assert {r["status"] for r in rows} == {"settled", "released"}
        assert rows[1]["prompt"].startswith("'=HYPERLINK")  # no formula runs in a spreadsheet

        text = inter.all_text()
        billed = sum(r["images_billed"] or 0 for r in ledger)
        assert f"Total spend: ${Decimal(total) / 1_000_000}" in text
        assert f"Images billed: {billed}, delivered: {billed}" in text
        assert "Seedream 4.5" in text and "Seedream 4.0" in text
        assert f"<@{w.alice.id}>" in text and f"<@{w.bob.id}>" in text

        data = png_bytes(inter)
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and image.size[0] > 200 and image.size[1] > 100


async def test_spend_for_one_member_by_member_and_an_empty_day(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        await make_some_spend(w)
        inter = await spend(w, {"period": "week", "member": w.bob, "chart_by": "member"})
        rows = csv_rows(inter)
        bob_rows = [r for r in await w.ledger_rows() if r["user_id"] == w.bob.id]
        assert len(rows) == len(bob_rows) == 2
        assert {int(r["user_id"]) for r in rows} == {w.bob.id}
        assert sum(Decimal(r["cost_usd"]) for r in rows) * 1_000_000 == sum(r["cost_micros"] for r in bob_rows)
        assert png_bytes(inter).startswith(PNG_SIGNATURE)

        # A member with no requests: a clear "nothing" and an empty (header-only) CSV.
        empty = await spend(w, {"period": "day", "member": w.admin})
        assert "Nothing was requested in this period." in empty.all_text()
        assert csv_rows(empty) == []


async def test_spend_is_refused_to_members_without_manage_server(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "a cat"})
        definition = w.discord.commands.find("spend", guild_id=w.guild.id)
        assert int(definition["default_member_permissions"]) == MANAGE_GUILD
        inter = await spend(w, {}, user=w.bob)
        assert "Only members with the Manage Server permission" in inter.all_text()
        assert inter.files() == []


async def test_history_members_see_their_own_moderators_see_anyones(tmp_path):
    async with server(tmp_path) as w:
        mods = w.discord.add_role(w.guild, "Moderators", MANAGE_MESSAGES)
        mod = w.discord.add_user("mod")
        w.discord.add_member(w.guild, mod, roles=[mods])
        await w.start_bot()
        await w.run("imagine", {"prompt": "alice's secret cat"})
        await w.run("imagine", {"prompt": "bob's dog", "count": 2}, user=w.bob)
        [alice_row, _] = await w.ledger_rows()
        # What the approval flow writes when a moderator decides on a request.
        await w.storage.audit.record(w.guild.id, mod.id, "request.approved", f"request:{alice_row['id']}",
                                     "pending", "approved", request_id=alice_row["id"])

        own = await w.run("history", {}, user=w.bob)
        assert own.callback_type == 5 and is_ephemeral(own)  # deferred before the database is read
        text = own.all_text()
        assert "bob's dog" in text and "delivered 2 of 2" in text and "$0.324" in text
        assert "alice's secret cat" not in text

        refused = await w.run("history", {"member": w.alice}, user=w.bob)
        assert "only your own requests" in refused.all_text()
        assert "alice's secret cat" not in refused.all_text()

        seen = (await w.run("history", {"member": w.alice}, user=mod)).all_text()
        assert "alice's secret cat" in seen
        assert f"↳ approved by <@{mod.id}>" in seen
        everyone = (await w.run("history", {}, user=mod)).all_text()
        assert "alice's secret cat" in everyone and "bob's dog" in everyone


async def test_a_member_who_left_is_still_in_the_books(tmp_path):
    # Discord sends a departed member as a bare user (no member data): the reports take them,
    # and /quota set says plainly that they are not in the server instead of failing.
    async with server(tmp_path) as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "a dog"}, user=w.bob)
        del w.guild.members[w.bob.id]

        report = await spend(w, {"member": w.bob})
        assert [int(r["user_id"]) for r in csv_rows(report)] == [w.bob.id]
        assert f"<@{w.bob.id}>" in report.all_text()
        history = await w.run("history", {"member": w.bob}, user=w.admin)
        assert "a dog" in history.all_text()
        refused = await quota(w, "set", {"member": w.bob, "daily_images": 1})
        assert refused.all_text() == f"<@{w.bob.id}> is not a member of this server."
        assert is_ephemeral(refused)
        assert not any("Traceback" in line for line in w.logs.lines)


async def test_a_month_too_big_for_one_csv_upload_is_sent_compressed_with_its_summary(tmp_path):
    from storage.models import epoch_ms, utc_now  # noqa: PLC0415 - only this test writes rows by hand

    async with server(tmp_path) as w:
        await w.start_bot()
        now = epoch_ms(utc_now())
        prompt = "a very detailed prompt about a harbour at dawn " * 20  # ~940 characters
        rows = [(w.guild.id, w.channel.id, w.alice.id, "imagine", "doubao-seedream-4-0-250828", "2K", prompt,
                 1, 1, 1, 162_000, 162_000, 162_000, 162_000, "settled", None, now - i, now - i)
                for i in range(12_000)]  # fmt: skip

        def insert(conn):
            conn.executemany(
                "INSERT INTO requests (guild_id, channel_id, user_id, command, model, size, prompt, images_requested,"
                " images_billed, images_delivered, unit_price_micros, reserved_micros, cost_micros, charged_micros,"
                " status, error_code, created_at, settled_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

        await w.storage.db.run(insert)
        report = await w.run("spend", {"period": "day"}, user=w.admin, timeout=60)
        assert "Total spend: $1,944.00" in report.all_text()  # 12,000 x $0.162
        [packed] = [data for name, data in report.files() if name.endswith(".csv.gz")]
        assert len(list(csv.reader(io.StringIO(gzip.decompress(packed).decode())))) == 12_001  # header + rows


async def fill_today(w, count: int, prompt) -> None:
    """``count`` settled $0.162 requests of alice's made today, with ``prompt(i)`` as prompt."""
    from storage.models import epoch_ms, utc_now  # noqa: PLC0415 - only these tests write rows by hand

    now = epoch_ms(utc_now())
    since_midnight = max(now % 86_400_000, 1)
    rows = [(w.guild.id, w.channel.id, w.alice.id, "imagine", "doubao-seedream-4-0-250828", "2K", prompt(i),
             1, 1, 1, 162_000, 162_000, 162_000, 162_000, "settled", None, now - i % since_midnight, now)
            for i in range(count)]  # fmt: skip
    await w.storage.db.run(lambda conn: conn.executemany(INSERT, rows))


async def test_a_csv_over_25_mib_on_a_boosted_server_is_sent_compressed_beside_the_chart(tmp_path):
    # A level-2 boosted server takes 50 MiB files, but Discord refuses a message over 25 MiB in
    # all: the 27 MiB CSV sent whole next to the PNG was refused, and the admin got no report.
    rng = random.Random(7)
    words = ["neon", "city", "watercolor", "portrait", "lighthouse", "dragon", "castle", "赛博朋克", "城市", "水彩"]
    async with server(tmp_path) as w:
        w.guild.attachment_size_limit = 50 * MIB
        await w.start_bot()
        await fill_today(w, 13_500, lambda _i: " ".join(rng.choice(words) for _ in range(400))[:2000])

        inter = await w.run("spend", {"period": "day"}, user=w.admin, timeout=60)
        assert inter.rejections == [], [(e.status, e.error) for e in inter.rejections]
        assert "Total spend: $2,187.00" in inter.all_text()  # 13,500 x $0.162
        [(name, packed)] = [f for f in inter.files() if not f[0].endswith(".png")]
        assert name.endswith(".csv.gz")
        plain = gzip.decompress(packed)
        assert len(plain) > 25 * MIB  # it would not have fitted as it is
        rows = list(csv.DictReader(io.StringIO(plain.decode("utf-8-sig"))))
        assert sum(Decimal(r["cost_usd"]) for r in rows) == Decimal("2187")
        assert png_bytes(inter).startswith(PNG_SIGNATURE)


async def test_a_csv_too_large_even_compressed_is_left_out_and_the_summary_and_chart_still_sent(tmp_path):
    rng = random.Random(8)
    async with server(tmp_path) as w:
        w.guild.attachment_size_limit = 200 * 1024
        await w.start_bot()
        await fill_today(w, 2_000, lambda _i: rng.randbytes(300).hex())  # random: gzip cannot shrink it enough

        inter = await w.run("spend", {"period": "day"}, user=w.admin, timeout=60)
        text = inter.all_text()
        assert "Total spend: $324.00" in text
        assert "The CSV is too large for Discord even compressed: choose a shorter period or one member." in text
        assert [name.rpartition(".")[2] for name, _data in inter.files()] == ["png"]


async def test_history_says_why_requests_failed_in_the_readers_language(tmp_path):
    # The ledger keeps the gateway's own codes (or the error's class); /history words them.
    from tests.doubles.image_gateway_double import Fault  # noqa: PLC0415
    from tests.e2e.harness import world  # noqa: PLC0415

    async with world(tmp_path, image_max_retries=0) as w:
        await w.run("imagine", {"prompt": "something forbidden"})  # the double's content filter
        w.gateway.script(Fault.status(429, retry_after=0), times=1)
        await w.run("imagine", {"prompt": "a cat"})
        w.gateway.script(Fault.status(500), times=1)
        await w.run("imagine", {"prompt": "a dog"})
        async with w.storage.db.transaction() as tx:  # a code no sentence covers
            await tx.execute("UPDATE requests SET error_code = 'WeirdGatewayThing' WHERE id = 3")
        zh = (await w.run("history", {}, locale="zh-CN")).all_text()
        assert "未生成图片（内容审核）" in zh
        assert "未生成图片（服务繁忙）" in zh
        assert "未生成图片（服务出错：WeirdGatewayThing）" in zh
        en = (await w.run("history", {})).all_text()
        assert "nothing generated (the service was busy)" in en
        assert "RateLimit" not in en and "InputTextSensitive" not in en


async def test_history_shows_what_the_member_paid_when_the_server_paid_more(tmp_path):
    # Billed by the gateway, its link dead: the server's cost, not the member's.
    from tests.doubles.image_gateway_double import Fault  # noqa: PLC0415
    from tests.e2e.harness import world  # noqa: PLC0415

    async with world(tmp_path) as w:
        w.gateway.script(Fault.missing_file())
        await w.run("imagine", {"prompt": "a lost cat"})
        await w.run("imagine", {"prompt": "a found cat"})
        [lost, _found] = await w.ledger_rows()
        assert (lost["cost_micros"], lost["charged_micros"]) == (162_000, 0)
        en = (await w.run("history", {})).all_text()
        assert "$0.162 (charged $0.00) · a lost cat" in en
        assert "$0.162 · a found cat" in en
        assert "$0.162（向成员计费 $0.00） · a lost cat" in (await w.run("history", {}, locale="zh-CN")).all_text()


async def test_history_keeps_entries_whole_and_says_how_many_did_not_fit(tmp_path):
    from tests.e2e.harness import world  # noqa: PLC0415
    from tests.e2e.staff import add_staff  # noqa: PLC0415
    from tests.e2e.test_approval import button  # noqa: PLC0415

    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin, subcommand="approval")
        for i in range(10):  # ten long approval lines do not fit in one message
            await w.run("imagine", {"prompt": f"castle number {i} " + "with towers " * 20})
            message = [m for m in w.discord.channel_messages(staff.mods_channel) if m.get("components")][-1]
            pressed = await w.discord.click_button(message, button(message, "reject"), user=staff.moderator)
            await pressed.wait_for_final()
        text = (await w.run("history", {}, user=staff.moderator)).all_text()
        shown = [i for i in range(10) if f"castle number {i} " in text]
        assert len(text) <= 2000 and shown == list(range(10 - len(shown), 10))  # the newest ones
        older = 10 - len(shown)
        assert text.splitlines()[-1] == f"…and {older} older {'one' if older == 1 else 'ones'} that do not fit here."
        assert all(line.endswith(("nothing charged", "…")) for line in text.splitlines()[1:-1])
