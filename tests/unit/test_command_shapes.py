"""What counts as "the same commands" when the bot compares its tree with Discord's list at start:
Discord's spelling of the same command must not cause a PUT at every start; a real change must."""

from __future__ import annotations

import copy

from bot import command_shapes

LOCAL = [  # as discord.py sends it
    {"name": "budget", "description": "The server's budget", "type": 1, "nsfw": False, "dm_permission": False,
     "default_member_permissions": 32, "contexts": [0], "integration_types": [0],
     "name_localizations": {"zh-CN": "预算"},
     "options": [{"name": "usd", "description": "Amount", "type": 10, "required": False, "min_value": 0,
                  "choices": [{"name": "ten", "value": 10}], "name_localizations": {"zh-CN": "美元"}}]},
    {"name": "Edit with Seedream", "type": 3, "nsfw": False, "default_member_permissions": None},
]

DISCORD = [  # as GET /applications/{id}/commands answers: ids, strings, defaults left out, other order
    {"id": "2", "application_id": "9", "version": "3", "name": "Edit with Seedream", "type": 3, "description": "",
     "default_member_permissions": None, "dm_permission": True, "integration_types": [0], "nsfw": False},
    {"id": "1", "application_id": "9", "version": "4", "name": "budget", "description": "The server's budget",
     "type": 1, "default_member_permissions": "32", "dm_permission": False, "contexts": [0], "nsfw": False,
     "options": [{"name": "usd", "description": "Amount", "type": 10, "min_value": 0.0,
                  "choices": [{"name": "ten", "value": 10.0}]}]},
]


def test_discords_spelling_of_the_same_commands_is_the_same():
    assert command_shapes(DISCORD) == command_shapes(LOCAL)


def test_a_missing_or_changed_command_is_a_difference():
    assert command_shapes(DISCORD[:1]) != command_shapes(LOCAL)
    required = copy.deepcopy(DISCORD)
    required[1]["options"][0]["required"] = True
    assert command_shapes(required) != command_shapes(LOCAL)
    described = copy.deepcopy(DISCORD)
    described[1]["description"] = "an older wording"
    assert command_shapes(described) != command_shapes(LOCAL)
