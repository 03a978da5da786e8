"""INTERACTION_CREATE payloads built the way Discord builds them."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .interactions import APPLICATION_COMMAND, AUTOCOMPLETE, MESSAGE_COMPONENT, MODAL_SUBMIT
from .model import Channel, Guild, User

if TYPE_CHECKING:
    from .server import DiscordDouble

AttachmentSpec = tuple[str, bytes, str]  # (filename, bytes, content_type)

(
    SUB_COMMAND,
    SUB_COMMAND_GROUP,
    STRING,
    INTEGER,
    BOOLEAN,
    USER,
    CHANNEL,
    ROLE,
    MENTIONABLE,
    NUMBER,
    ATTACHMENT,
) = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)


def base_payload(
    dd: DiscordDouble, itype: int, *, user: User, guild: Guild | None, channel: Channel, locale: str
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(dd.snowflakes.next()),
        "application_id": str(dd.application_id),
        "type": itype,
        "token": dd.new_interaction_token(),
        "version": 1,
        "locale": locale,
        "channel_id": str(channel.id),
        "channel": channel.to_payload(),
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": guild.attachment_size_limit if guild else dd.dm_attachment_size_limit,
    }
    if guild is not None:
        member = guild.members.get(user.id)
        if member is None:
            raise ValueError(f"user {user.id} is not a member of guild {guild.id}; add_member first")
        payload.update(
            guild_id=str(guild.id),
            guild_locale=guild.preferred_locale,
            guild={"id": str(guild.id), "locale": guild.preferred_locale, "features": []},
            member={**member.to_payload(), "permissions": str(guild.permissions_for(user.id, channel))},
            app_permissions=str(guild.permissions_for(dd.bot_user.id, channel)),
            authorizing_integration_owners={"0": str(guild.id)},
            context=0,
        )
    else:
        payload.update(
            user=user.to_payload(),
            app_permissions=str(dd.dm_app_permissions),
            authorizing_integration_owners={"1": str(user.id)},
            context=1,
        )
    return payload


def _find_option_level(
    command: dict[str, Any], subcommand: str | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The option definitions at the (sub)command level, and the path of subcommand names."""
    defs = command.get("options") or []
    path: list[str] = []
    for name in (subcommand or "").split():
        found = next(
            (o for o in defs if o["name"] == name and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)), None
        )
        if found is None:
            raise ValueError(f"/{command['name']} has no subcommand {name!r}")
        path.append(name)
        defs = found.get("options") or []
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in defs):
        raise ValueError(f"/{command['name']} needs a subcommand (subcommand='group sub' or 'sub')")
    return defs, path


def _check_value(cmd_name: str, definition: dict[str, Any], value: Any) -> None:
    name = definition["name"]
    choices = definition.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise ValueError(f"/{cmd_name} {name}: {value!r} is not one of the choices")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if definition.get("min_value") is not None and value < definition["min_value"]:
            raise ValueError(f"/{cmd_name} {name}: {value} < min_value")
        if definition.get("max_value") is not None and value > definition["max_value"]:
            raise ValueError(f"/{cmd_name} {name}: {value} > max_value")
    if isinstance(value, str):
        if definition.get("min_length") is not None and len(value) < definition["min_length"]:
            raise ValueError(f"/{cmd_name} {name}: shorter than min_length")
        if definition.get("max_length") is not None and len(value) > definition["max_length"]:
            raise ValueError(f"/{cmd_name} {name}: longer than max_length")


def command_data(
    dd: DiscordDouble,
    command: dict[str, Any],
    options: dict[str, Any],
    *,
    guild: Guild | None,
    channel: Channel,
    attachments: Sequence[AttachmentSpec],
    subcommand: str | None,
    unchecked: bool = False,
) -> dict[str, Any]:
    """``data`` of a chat-input APPLICATION_COMMAND, option types taken from the synced definition.
    `unchecked`: values outside the options' choices, min/max and lengths go out as given (a
    crafted or buggy client; the real Discord client would not send them)."""
    defs, path = _find_option_level(command, subcommand)
    by_name = {d["name"]: d for d in defs}
    unknown = set(options) - set(by_name)
    if unknown:
        raise ValueError(f"/{command['name']} has no option(s) {sorted(unknown)}; it has {sorted(by_name)}")
    values = dict(options)
    pending = list(attachments)
    for d in defs:
        if d["type"] == ATTACHMENT and d["name"] not in values and pending:
            values[d["name"]] = pending.pop(0)
    if pending:
        raise ValueError(
            f"/{command['name']}: {len(pending)} attachment(s) left with no attachment option to fill"
        )
    missing = [d["name"] for d in defs if d.get("required") and d["name"] not in values]
    if missing:
        raise ValueError(f"/{command['name']}: required option(s) missing: {missing}")

    resolved: dict[str, dict[str, Any]] = {}
    built: list[dict[str, Any]] = []
    for d in defs:  # Discord sends options in definition order
        if d["name"] not in values:
            continue
        built.append(
            _option(dd, command["name"], d, values[d["name"]], resolved, guild=guild, channel=channel,
                    unchecked=unchecked)
        )
    for name in reversed(path):
        level_type = SUB_COMMAND if name == path[-1] else SUB_COMMAND_GROUP
        built = [{"name": name, "type": level_type, "options": built}]
    data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": 1}
    if built:
        data["options"] = built
    if resolved:
        data["resolved"] = resolved
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def _option(
    dd: DiscordDouble,
    cmd_name: str,
    d: dict[str, Any],
    value: Any,
    resolved: dict[str, dict[str, Any]],
    *,
    guild: Guild | None,
    channel: Channel,
    unchecked: bool = False,
) -> dict[str, Any]:
    otype = d["type"]
    if otype == ATTACHMENT:
        filename, data, content_type = value
        att = dd.store.add(channel.id, filename, data, content_type, ephemeral=True)
        resolved.setdefault("attachments", {})[str(att.id)] = dd.store.to_payload(att)
        return {"name": d["name"], "type": otype, "value": str(att.id)}
    if otype in (USER, MENTIONABLE) and isinstance(value, User):
        resolved.setdefault("users", {})[str(value.id)] = value.to_payload()
        if guild is not None and value.id in guild.members:
            resolved.setdefault("members", {})[str(value.id)] = {
                **guild.members[value.id].to_payload(with_user=False),
                "permissions": str(guild.permissions_for(value.id, channel)),
            }
        return {"name": d["name"], "type": otype, "value": str(value.id)}
    if otype == CHANNEL and isinstance(value, Channel):
        perms = guild.permissions_for(dd.bot_user.id, value) if guild else 0
        resolved.setdefault("channels", {})[str(value.id)] = {**value.to_payload(), "permissions": str(perms)}
        return {"name": d["name"], "type": otype, "value": str(value.id)}
    if otype == ROLE and guild is not None:
        role = guild.roles[int(getattr(value, "id", value))]
        resolved.setdefault("roles", {})[str(role.id)] = role.to_payload()
        return {"name": d["name"], "type": otype, "value": str(role.id)}
    if otype == INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"/{cmd_name} {d['name']}: expected int, got {value!r}")
    elif otype == NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"/{cmd_name} {d['name']}: expected number, got {value!r}")
    elif otype == BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"/{cmd_name} {d['name']}: expected bool, got {value!r}")
    elif otype == STRING and not isinstance(value, str):
        raise ValueError(f"/{cmd_name} {d['name']}: expected str, got {value!r}")
    if not unchecked:
        _check_value(cmd_name, d, value)
    return {"name": d["name"], "type": otype, "value": value}


def autocomplete_data(
    dd: DiscordDouble,
    command: dict[str, Any],
    options: dict[str, Any],
    focused: str,
    *,
    guild: Guild | None,
    channel: Channel,
    attachments: Sequence[AttachmentSpec],
    subcommand: str | None,
) -> dict[str, Any]:
    """``data`` of an APPLICATION_COMMAND_AUTOCOMPLETE: the options filled so far (required ones
    may be missing) with `focused` marked, its value the text typed so far (unchecked)."""
    defs, path = _find_option_level(command, subcommand)
    by_name = {d["name"]: d for d in defs}
    if focused not in by_name or not by_name[focused].get("autocomplete"):
        raise ValueError(f"/{command['name']} option {focused!r} has no autocomplete")
    unknown = set(options) - set(by_name)
    if unknown:
        raise ValueError(f"/{command['name']} has no option(s) {sorted(unknown)}")
    values = {**options, focused: options.get(focused, "")}
    pending = list(attachments)
    for d in defs:
        if d["type"] == ATTACHMENT and d["name"] not in values and pending:
            values[d["name"]] = pending.pop(0)
    resolved: dict[str, dict[str, Any]] = {}
    built: list[dict[str, Any]] = []
    for d in defs:
        if d["name"] not in values:
            continue
        if d["name"] == focused:
            built.append({"name": focused, "type": d["type"], "value": str(values[focused]), "focused": True})
        else:
            built.append(_option(dd, command["name"], d, values[d["name"]], resolved, guild=guild, channel=channel,
                                 unchecked=True))
    for name in reversed(path):
        level_type = SUB_COMMAND if name == path[-1] else SUB_COMMAND_GROUP
        built = [{"name": name, "type": level_type, "options": built}]
    data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": 1, "options": built}
    if resolved:
        data["resolved"] = resolved
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def message_command_data(command: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": command["id"],
        "name": command["name"],
        "type": 3,
        "target_id": target["id"],
        "resolved": {"messages": {target["id"]: copy.deepcopy(target)}},
    }
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def modal_components(modal: dict[str, Any] | None, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Submitted components mirroring the modal layout (action rows or labels; discord.py 2.7 reads both)."""
    if modal is None:
        return [
            {"type": 1, "components": [{"type": 4, "custom_id": cid, "value": str(v)}]}
            for cid, v in values.items()
        ]
    unknown = set(values) - set(_custom_ids(modal.get("components") or []))
    if unknown:
        raise ValueError(f"modal {modal.get('custom_id')!r} has no input(s) {sorted(unknown)}")
    counter = [0]
    return [c for c in (_submitted(comp, values, counter) for comp in modal.get("components") or []) if c]


def _custom_ids(components: Iterable[dict[str, Any]]) -> Iterable[str]:
    for comp in components:
        if comp.get("custom_id"):
            yield comp["custom_id"]
        yield from _custom_ids(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            yield from _custom_ids([comp["component"]])


def _submitted(comp: dict[str, Any], values: dict[str, Any], counter: list[int]) -> dict[str, Any] | None:
    counter[0] += 1
    cid = comp.get("id", counter[0])
    ctype = comp.get("type")
    if ctype == 1:
        inner = [s for s in (_submitted(c, values, counter) for c in comp.get("components") or []) if s]
        return {"type": 1, "id": cid, "components": inner}
    if ctype == 18:
        inner_comp = _submitted(comp["component"], values, counter)
        return {"type": 18, "id": cid, "component": inner_comp} if inner_comp else None
    if ctype == 10:
        return {"type": 10, "id": cid}
    custom_id = comp.get("custom_id")
    if custom_id is None:
        return None
    if ctype == 4:
        return {
            "type": 4,
            "id": cid,
            "custom_id": custom_id,
            "value": str(values.get(custom_id, comp.get("value") or "")),
        }
    if ctype in (3, 5, 6, 7, 8):  # selects
        chosen = values.get(custom_id, [])
        return {
            "type": ctype,
            "id": cid,
            "custom_id": custom_id,
            "values": list(chosen if isinstance(chosen, list) else [chosen]),
        }
    return {"type": ctype, "id": cid, "custom_id": custom_id}


__all__ = ["APPLICATION_COMMAND", "AUTOCOMPLETE", "MESSAGE_COMPONENT", "MODAL_SUBMIT", "AttachmentSpec"]
