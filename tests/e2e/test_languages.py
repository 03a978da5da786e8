"""Languages end to end: localized commands in the synced payload, replies in the member's language."""

from __future__ import annotations

import io
import re

from PIL import Image

from tests.e2e.harness import world

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    range(1, 12)
)
ZH = "zh-CN"


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


def by_name(payload: list[dict], name: str) -> dict:
    return next(c for c in payload if c["name"] == name)


async def test_synced_commands_carry_chinese_names_descriptions_and_options(tmp_path):
    async with world(tmp_path) as w:
        payload = w.discord.commands.global_payload
        imagine = by_name(payload, "imagine")
        assert imagine["name_localizations"][ZH] == "画图"
        assert imagine["name_localizations"]["zh-TW"] == "画图"  # answered in Chinese, so listed in it
        assert CJK.search(imagine["description_localizations"][ZH])
        prompt = next(o for o in imagine["options"] if o["name"] == "prompt")
        assert prompt["name_localizations"][ZH] == "提示词"
        assert CJK.search(prompt["description_localizations"][ZH])
        # every command, option and choice the bot registers is localized, and siblings stay distinct
        assert _distinct(payload), [c["name_localizations"] for c in payload]
        for command in payload:
            assert (command.get("name_localizations") or {}).get(ZH), command["name"]
            if command.get("type", 1) == 1:
                assert (command.get("description_localizations") or {}).get(ZH), command["name"]
            for where, item in _options(command):
                assert (item.get("name_localizations") or {}).get(ZH), where
                if "description" in item:
                    assert (item.get("description_localizations") or {}).get(ZH), where


def _distinct(siblings: list[dict]) -> bool:
    names = [(s.get("name_localizations") or {}).get(ZH, s["name"]) for s in siblings]
    return len(set(names)) == len(names) and all(_distinct(s.get("options") or []) for s in siblings)


def _options(node: dict, where: str = ""):
    for option in node.get("options") or []:
        path = f"{where or node['name']} {option['name']}"
        yield path, option
        for choice in option.get("choices") or []:
            yield f"{path} choice {choice['name']}", choice
        yield from _options(option, path)


async def test_a_chinese_member_reads_chinese_everywhere(tmp_path):
    async with world(tmp_path) as w:
        result = await w.run("imagine", {"prompt": "a red fox in snow"}, locale=ZH)
        text = result.all_text()
        assert "费用" in text and "剩余额度" in text, text
        labels = [c["label"] for m in result.messages for row in m.get("components") or [] for c in row["components"]]
        assert labels == ["重新生成", "变体", "放大", "删除"]
        usage = await w.run("usage", locale=ZH)
        assert "你的图片用量" in usage.all_text()
        refused = await w.run("imagine", {"prompt": "a cat", "size": "0x0"}, locale=ZH)
        assert CJK.search(refused.all_text()), refused.all_text()
        row_id = (await w.ledger_rows())[0]["id"]
        message = next(m for m in result.messages if m.get("components"))
        other = await w.discord.click_button(message, f"sd:reroll:{row_id}", user=w.bob, locale=ZH)
        await other.wait_for_final()
        assert "只有请求这张图片的成员" in other.all_text()


async def test_the_servers_locale_is_the_fallback(tmp_path):
    async with world(tmp_path, start=False) as w:
        w.guild.preferred_locale = ZH
        await w.start_bot()
        french = await w.run("usage", locale="fr")
        assert "你的图片用量" in french.all_text()
        english = await w.run("usage", locale="en-US")
        assert "Your image usage" in english.all_text()
        taiwan = await w.run("usage", locale="zh-TW")
        assert "你的图片用量" in taiwan.all_text()


async def test_every_command_answers_a_chinese_member_in_chinese(tmp_path):
    """English inputs, so any Chinese in a reply comes from the bot's catalog."""
    async with world(tmp_path) as w:
        answered = []
        for command in w.discord.commands.global_payload:
            if command.get("type", 1) != 1:
                continue
            for sub, options in _invocations(command):
                values, files = _fill(w, options)
                inter = await w.discord.invoke_command(
                    command["name"], values, user=w.alice, guild=w.guild, channel=w.channel,
                    locale=ZH, subcommand=sub, attachments=files,
                )  # fmt: skip
                await inter.wait_for_final(timeout=15)
                text = inter.all_text()
                if inter.modal is not None:
                    text = str(inter.modal)
                assert CJK.search(text), (command["name"], sub, text)
                answered.append(command["name"])
        assert {"imagine", "usage", "edit", "series"} <= set(answered)


def _invocations(command: dict):
    """(subcommand path or None, option definitions) for every leaf of a chat-input command."""
    options = command.get("options") or []
    subs = [o for o in options if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if not subs:
        yield None, options
        return
    for sub in subs:
        if sub["type"] == SUB_COMMAND:
            yield sub["name"], sub.get("options") or []
        else:
            for leaf in sub.get("options") or []:
                yield f"{sub['name']} {leaf['name']}", leaf.get("options") or []


def _fill(w, options: list[dict]):
    values, files = {}, []
    for option in options:
        if not option.get("required"):
            continue
        kind, name = option["type"], option["name"]
        if option.get("choices"):
            values[name] = option["choices"][0]["value"]
        elif kind == STRING:
            values[name] = "a cat"
        elif kind in (INTEGER, NUMBER):
            values[name] = option.get("min_value", 1)
        elif kind == BOOLEAN:
            values[name] = False
        elif kind in (USER, MENTIONABLE):
            values[name] = w.bob
        elif kind == CHANNEL:
            values[name] = w.channel
        elif kind == ROLE:
            values[name] = w.guild.id
        elif kind == ATTACHMENT:
            files.append(("cat.png", png(), "image/png"))
    return values, files
