"""/imagine on every preset and model, with the request and the price each seed page documents."""

from __future__ import annotations

import pytest

from image_gateway.presets import get_preset
from tests.e2e.harness import world

CASES = [
    (preset, spec.id)
    for preset in ("gogogotoken-ai", "gogogotoken-com", "aiearth", "302ai", "xmsmartlink")
    for spec in get_preset(preset).models.values()
    if spec.min_references == 0
]


@pytest.mark.parametrize(("flavour", "model"), CASES)
async def test_every_model_makes_its_default_largest_and_tier_sizes_at_its_price(tmp_path, flavour, model):
    spec = get_preset(flavour).models[model]
    async with world(tmp_path, flavour=flavour) as w:
        for size in (None, spec.largest_size, *spec.size_tiers):
            options = {"prompt": "a lighthouse at dusk", "model": model}
            if size is not None:
                options["size"] = size
            inter = await w.run("imagine", options, timeout=30)
            assert len(inter.files()) == 1, (size, inter.all_text())
            body = w.gateway.generation_requests[-1].json
            assert body["model"] == model
            assert "seed" not in body
            if spec.supports_watermark:
                assert body["watermark"] is False
            else:
                assert "watermark" not in body
            row = (await w.ledger_rows())[-1]
            assert row["status"] == "settled"
            assert row["cost_micros"] == (spec.price_micros or 0)
