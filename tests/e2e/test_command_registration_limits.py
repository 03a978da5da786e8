"""Would real Discord accept the bot's command registration? (names, localized names,
descriptions, choices, the 8000-character total). The double validates only the OpenAPI schema,
which has no name pattern and no lowercase rule."""

from __future__ import annotations

import json

import regex

from tests.e2e.harness import world

NAME = regex.compile(r"^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$")


def _name_problems(where: str, name: str, chat_input: bool) -> list[str]:
    out = []
    if not chat_input:  # user/message commands: 1..32 characters of any kind (spaces too)
        return [] if 1 <= len(name) <= 32 else [f"{where}: name {name!r} length {len(name)}"]
    if not NAME.match(name):
        out.append(f"{where}: name {name!r} does not match Discord's pattern")
    if chat_input and name != name.lower():
        out.append(f"{where}: name {name!r} is not lowercase")
    return out


def _item_problems(where: str, item: dict, chat_input: bool) -> list[str]:
    out = _name_problems(where, item["name"], chat_input)
    for loc, name in (item.get("name_localizations") or {}).items():
        out += _name_problems(f"{where}[{loc}]", name, chat_input)
    desc = item.get("description")
    if chat_input and not 1 <= len(desc or "") <= 100:
        out.append(f"{where}: description length {len(desc or '')}")
    for loc, d in (item.get("description_localizations") or {}).items():
        if not 1 <= len(d) <= 100:
            out.append(f"{where}[{loc}]: description length {len(d)}")
    choices = item.get("choices") or []
    if len(choices) > 25:
        out.append(f"{where}: {len(choices)} choices")
    for c in choices:
        if not 1 <= len(c["name"]) <= 100:
            out.append(f"{where}: choice name {c['name']!r}")
        for loc, n in (c.get("name_localizations") or {}).items():
            if not 1 <= len(n) <= 100:
                out.append(f"{where}: choice name [{loc}] {n!r}")
        if isinstance(c["value"], str) and len(c["value"]) > 100:
            out.append(f"{where}: choice value over 100")
    options = item.get("options") or []
    if len(options) > 25:
        out.append(f"{where}: {len(options)} options")
    seen_optional = False
    names = [o["name"] for o in options]
    if len(names) != len(set(names)):
        out.append(f"{where}: duplicate option names {names}")
    for o in options:
        if o.get("type") not in (1, 2):
            if o.get("required"):
                if seen_optional:
                    out.append(f"{where}: required option {o['name']} after an optional one")
            else:
                seen_optional = True
        out += _item_problems(f"{where} {o['name']}", o, chat_input)
    return out


def _chars(item: dict, locale: str | None) -> int:
    name = (item.get("name_localizations") or {}).get(locale) or item["name"] if locale else item["name"]
    localized = (item.get("description_localizations") or {}).get(locale) if locale else None
    desc = localized or item.get("description") or ""
    total = len(name) + len(desc)
    for c in item.get("choices") or []:
        total += len(((c.get("name_localizations") or {}).get(locale) if locale else None) or c["name"])
        total += len(str(c["value"]))
    return total + sum(_chars(o, locale) for o in item.get("options") or [])


def command_problems(payload: list[dict]) -> list[str]:
    out = []
    keys = [(c["name"], c.get("type") or 1) for c in payload]
    if len(keys) != len(set(keys)):
        out.append(f"duplicate commands {keys}")
    for cmd in payload:
        chat_input = (cmd.get("type") or 1) == 1
        out += _item_problems(f"/{cmd['name']}", cmd, chat_input)
        locales = {None}
        stack = [cmd]
        while stack:
            it = stack.pop()
            locales |= set(it.get("name_localizations") or {}) | set(it.get("description_localizations") or {})
            stack += it.get("options") or []
            for c in it.get("choices") or []:
                locales |= set(c.get("name_localizations") or {})
        for loc in locales:
            if (n := _chars(cmd, loc)) > 8000:
                out.append(f"/{cmd['name']} [{loc}]: {n} characters in all (max 8000)")
    return out


async def test_registered_commands_follow_discords_name_and_size_rules(tmp_path):
    async with world(tmp_path, flavour="aiearth") as w:
        payloads = [p for p in w.discord.commands.last_put.values() if p]
        assert payloads, "no command registration seen"
        (tmp_path / "commands.json").write_text(json.dumps(payloads, ensure_ascii=False, indent=1))
        problems = [p for payload in payloads for p in command_problems(payload)]
        assert problems == [], problems


async def test_registered_commands_on_every_gateway_flavour(tmp_path):
    problems = []
    for flavour in ("gogogotoken-com", "gogogotoken-ai", "302ai", "xmsmartlink"):
        async with world(tmp_path / flavour, flavour=flavour) as w:
            for payload in w.discord.commands.last_put.values():
                problems += [f"{flavour}: {p}" for p in command_problems(payload or [])]
    assert problems == [], problems
