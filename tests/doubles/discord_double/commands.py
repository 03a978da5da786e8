"""Application commands as the bot registered them (bulk overwrite, create, edit, delete)."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from .ids import SnowflakeFactory

Scope = int | None  # None = global, else guild id


class CommandStore:
    """``put_counts[None]`` counts global bulk overwrites, ``put_counts[guild_id]`` a guild's."""

    def __init__(self, snowflakes: SnowflakeFactory, application_id: int) -> None:
        self._snowflakes = snowflakes
        self._app_id = application_id
        self._ids: dict[tuple[Scope, str, int], int] = {}  # Discord keeps an id while name+type stay
        self.registered: dict[Scope, list[dict[str, Any]]] = {}
        self.last_put: dict[Scope, list[dict[str, Any]]] = {}  # payloads exactly as the bot sent them
        self.put_counts: Counter[Scope] = Counter()

    @property
    def global_payload(self) -> list[dict[str, Any]] | None:
        return self.last_put.get(None)

    def guild_payload(self, guild_id: int) -> list[dict[str, Any]] | None:
        return self.last_put.get(guild_id)

    def _materialize(self, scope: Scope, cmd: dict[str, Any]) -> dict[str, Any]:
        ctype = int(cmd.get("type") or 1)
        key = (scope, cmd["name"], ctype)
        if key not in self._ids:
            self._ids[key] = self._snowflakes.next()
        out: dict[str, Any] = {
            "id": str(self._ids[key]),
            "application_id": str(self._app_id),
            "version": str(self._snowflakes.next()),
            "default_member_permissions": _permissions(cmd.get("default_member_permissions")),
            "type": ctype,
            "name": cmd["name"],
            "name_localizations": cmd.get("name_localizations"),
            "description": cmd.get("description", "") if ctype == 1 else "",
            "description_localizations": cmd.get("description_localizations"),
            "dm_permission": cmd.get("dm_permission", True),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types") or [0],
            "nsfw": bool(cmd.get("nsfw", False)),
        }
        if cmd.get("options"):
            out["options"] = copy.deepcopy(cmd["options"])
        if scope is not None:
            out["guild_id"] = str(scope)
        return out

    def bulk_overwrite(self, scope: Scope, payload: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        payload = payload or []
        self.put_counts[scope] += 1
        self.last_put[scope] = copy.deepcopy(payload)
        self.registered[scope] = [self._materialize(scope, c) for c in payload]
        return copy.deepcopy(self.registered[scope])

    def upsert(self, scope: Scope, cmd: dict[str, Any]) -> dict[str, Any]:
        made = self._materialize(scope, cmd)
        current = [c for c in self.registered.get(scope, []) if c["id"] != made["id"]]
        self.registered[scope] = [*current, made]
        return copy.deepcopy(made)

    def get(self, scope: Scope, command_id: str) -> dict[str, Any] | None:
        return next((c for c in self.registered.get(scope, []) if c["id"] == command_id), None)

    def edit(self, scope: Scope, command_id: str, patch: dict[str, Any]) -> dict[str, Any] | None:
        cmd = self.get(scope, command_id)
        if cmd is None:
            return None
        cmd.update({k: v for k, v in patch.items() if k != "id"})
        return copy.deepcopy(cmd)

    def delete(self, scope: Scope, command_id: str) -> bool:
        before = self.registered.get(scope, [])
        self.registered[scope] = [c for c in before if c["id"] != command_id]
        return len(self.registered[scope]) != len(before)

    def list(self, scope: Scope, *, with_localizations: bool = True) -> list[dict[str, Any]]:
        """As GET .../commands answers: the localization dictionaries (of the commands, their
        options and choices) only when asked for with ``?with_localizations=true``."""
        listed = copy.deepcopy(self.registered.get(scope, []))
        if not with_localizations:
            for cmd in listed:
                _drop_localizations(cmd)
        return listed

    def find(self, name: str, *, guild_id: int | None = None, command_type: int = 1) -> dict[str, Any] | None:
        """A registered command by name; the guild's own first, then global (as Discord shows them)."""
        scopes: list[Scope] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for cmd in self.registered.get(scope, []):
                if cmd["name"] == name and cmd["type"] == command_type:
                    return cmd
        return None


def _drop_localizations(item: dict[str, Any]) -> None:
    item.pop("name_localizations", None)
    item.pop("description_localizations", None)
    for child in (*item.get("options", ()), *item.get("choices", ())):
        _drop_localizations(child)


def _permissions(value: Any) -> str | None:
    """Sent as a string or an integer (discord.py); Discord answers with a string."""
    return None if value is None else str(value)
