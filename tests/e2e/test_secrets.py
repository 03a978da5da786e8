"""No secret anywhere: every message, embed and log line of a broad set of scenarios (errors
included) is scanned for the API key and the bot token; gateway text shown to members is
trimmed and stripped of request headers and signed URLs."""

from __future__ import annotations

import io
import logging

import discord

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import API_KEY, secret_leaks, world

LEAKY_400 = (
    "Invalid image. Request headers: Authorization: Bearer " + API_KEY + " X-Api-Key: " + API_KEY
    + " image https://bucket.example/y.png?X-Tos-Algorithm=TOS4&X-Tos-Signature=0123abcdef"
    + "&X-Tos-Credential=AKLT" + " more detail" * 200
)


def assert_nothing_secret(texts: list[str], secrets: tuple[str, ...]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, text[:300]
        assert "X-Tos-Signature" not in text and "X-Tos-Credential" not in text, text[:300]


async def test_no_secret_in_any_message_embed_or_log_line(tmp_path):
    async with world(tmp_path, image_max_retries=0, image_timeout_seconds=1.0, default_daily_images=3) as w:
        scripted = [
            None,  # a success
            Fault.status(400, "InvalidParameter", LEAKY_400),
            Fault.status(401),
            Fault.status(429, retry_after=0),
            Fault.html(502),
            Fault.truncated_json(),
            Fault.missing_file(),
            Fault.hang(),
        ]
        shown_400 = ""
        for fault in scripted:
            if fault is not None:
                w.gateway.script(fault)
            inter = await w.run("imagine", {"prompt": "a cat"}, user=w.bob, timeout=30)
            if fault is not None and fault.code == "InvalidParameter":
                shown_400 = inter.all_text()
        await w.run("imagine", {"prompt": "a cat", "size": "0x0"})  # a refusal
        for _ in range(4):  # the daily quota runs out
            await w.run("imagine", {"prompt": "a dog"})
        await w.run("usage")

        # the gateway's reason reaches the member, trimmed to 300 characters (its link in angle
        # brackets, so that Discord shows no preview of it) ...
        prefix = "The image service refused the request: "
        assert shown_400.startswith(prefix + "Invalid image."), shown_400
        assert shown_400.endswith("\nYou were not charged.")
        assert "<https://bucket.example/y.png>" in shown_400, shown_400
        assert len(shown_400) <= len(prefix) + 300 + len("<>") + len("\nYou were not charged.")
        assert "https://bucket.example/y.png" in shown_400 and "more detail" in shown_400
        # ... without the request headers (name and value) or the URL's signed query
        for leak in ("Authorization", "X-Api-Key", "Bearer", "[redacted]", "?", "X-Tos", "Signature", "AKLT"):
            assert leak not in shown_400, shown_400
        secrets = (API_KEY, w.discord.bot_token)
        outgoing = w.discord.all_outgoing_text()
        assert len(outgoing) > 10
        assert_nothing_secret(outgoing, secrets)
        assert len(w.logs.lines) > 10
        assert_nothing_secret(w.logs.lines, secrets)


async def test_the_scan_catches_a_secret_wherever_the_bot_puts_it(tmp_path):
    # The scan every end-to-end test ends with (harness.secret_leaks) must see a key cut short,
    # in an embed field, a file name, a CSV's bytes, a log record's arguments and a traceback.
    async with world(tmp_path) as w:
        piece = API_KEY[4:20]
        channel = await w.bot.fetch_channel(w.channel.id)
        embed = discord.Embed(title="report").add_field(name="detail", value=f"key {piece}...")
        await channel.send(embed=embed)
        await channel.send(files=[discord.File(io.BytesIO(b"\x89PNG"), filename=f"x{piece}.png")])
        await channel.send(files=[discord.File(io.BytesIO(f"a,b\n1,{API_KEY}\n".encode()), filename="spend.csv")])
        log = logging.getLogger("seedream.test")
        log.warning("calling with %s", piece)
        try:
            raise RuntimeError(f"gateway said {piece}")
        except RuntimeError:
            log.exception("failed")

        sent = secret_leaks(w.discord.all_outgoing_text(), (API_KEY,))
        logged = secret_leaks(w.logs.lines, (API_KEY,))
        assert any("key " in text for text in sent)  # the embed field
        assert any(text.startswith("x") and text.endswith(".png") for text in sent)  # the file name
        assert any(text.startswith("a,b") for text in sent)  # the CSV's contents
        assert any("calling with" in text for text in logged)  # a log record's arguments
        assert any(text.startswith("ERROR seedream.test: failed\nTraceback") for text in logged)  # a traceback
        assert secret_leaks(["nothing to see", API_KEY[:11]], (API_KEY,)) == []  # 11 characters are not a leak
        w.discord.forget_outgoing()  # planted on purpose: the world's own scan would refuse them
        w.logs.lines.clear()


async def test_a_gateway_echoing_part_of_the_key_shows_none_of_it(tmp_path):
    # The key without its "sk-" (a proxy's "invalid token ..."), and one split by an HTML page's markup.
    async with world(tmp_path, image_max_retries=0) as w:
        w.gateway.script(Fault.status(400, "InvalidParameter", f"invalid token {API_KEY[3:]} for this model"))
        echoed = await w.run("imagine", {"prompt": "a cat"})
        w.gateway.script(Fault.html(502, f"<html><body>key {API_KEY[:15]}<b>{API_KEY[15:]}</b></body></html>"))
        await w.run("imagine", {"prompt": "a dog"})
        assert echoed.all_text().startswith("The image service refused the request: invalid token"), echoed.all_text()
        assert secret_leaks([*w.discord.all_outgoing_text(), *w.logs.lines], (API_KEY,)) == []
