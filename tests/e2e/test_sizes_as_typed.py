"""Sizes as members type them (README, "What members get"). A size the model cannot take "is refused
before anything is spent, with the allowed values": a Seedream tier this particular model does not
make (4K on Seedream 5.0 Lite, 1K on Seedream 4.5) is told as that, not as "is not a size", which
read as a typo."""

from __future__ import annotations

import pytest

from tests.e2e.harness import world
from tests.e2e.staff import is_ephemeral

CASES = [
    # flavour, model (None: the gateway's default), size typed, a size the model does take
    ("aiearth", None, "4K", "3K"),  # the default model, Seedream 5.0 Lite: 2K/3K
    ("gogogotoken-com", "doubao-seedream-4-5-251128", "1K", "4K"),  # Seedream 4.5: 2K/4K
]


@pytest.mark.parametrize(("flavour", "model", "size", "allowed"), CASES)
async def test_a_size_tier_the_model_does_not_make_is_not_called_not_a_size(tmp_path, flavour, model, size, allowed):
    # 4K and 1K are Seedream sizes the other models on the same gateway make: "`4K` is not a size"
    # (Chinese: "不是有效的尺寸") read as if the member had mistyped.
    options = {"prompt": "a lighthouse", "size": size, **({"model": model} if model else {})}
    async with world(tmp_path, flavour=flavour) as w:
        english = await w.run("imagine", options)
        chinese = await w.run("imagine", options, locale="zh-CN")
        assert w.gateway.generation_requests == []  # refused before anything was spent
        assert is_ephemeral(english) and is_ephemeral(chinese)
        text, text_zh = english.all_text(), chinese.all_text()
        assert size in text and allowed in text, text  # names the size asked and what is allowed
        assert "is not a size" not in text, text
        assert "不是有效的尺寸" not in text_zh, text_zh


async def test_sizes_as_members_type_them_reach_the_gateway_and_the_reply_canonically(tmp_path):
    # README: "Sizes are read as members type them: 2k, 2048 × 2048, 2048*2048, or in
    # full width (２Ｋ, ２０４８ｘ２０４８)"; the reply shows the size, and Re-roll asks it again.
    typed = {"2k": "2K", "２Ｋ": "2K", "2048 × 2048": "2048x2048", "2048*2048": "2048x2048",
             "２０４８ｘ２０４８": "2048x2048"}
    async with world(tmp_path, flavour="aiearth") as w:
        for spelling, canonical in typed.items():
            inter = await w.run("imagine", {"prompt": "a cat", "size": spelling})
            assert w.gateway.generation_requests[-1].json["size"] == canonical
            assert f" · {canonical} · " in inter.all_text(), (spelling, inter.all_text())
            assert (await w.ledger_rows())[-1]["size"] == canonical
