"""What the operator's MODEL_CATALOG_FILE does to the bot.

A value no request could use (a size the model refuses, a model id Discord cannot suggest) stops
`--check` and the start with one line naming the file, the model and the key, instead of failing
every request. A seed model added on a gateway that takes "n" still gives each image its own seed.
"""

from __future__ import annotations

import dataclasses

from image_gateway.catalog import SEEDREAM_3_T2I
from tests.doubles.image_gateway_double.models import RULES
from tests.e2e.harness import world
from tests.e2e.test_startup import _bot_env, _one_clean_line, _run_bot

LONG_ID = "vendor/bytedance/" + "doubao-seedream-5-0-260128-" * 4 + "preview"


async def test_a_catalog_no_request_could_use_stops_check_with_one_line(tmp_path):
    catalog = tmp_path / "catalog.toml"
    async with world(tmp_path, flavour="aiearth", start=False) as w:
        for table, said in (
            (f'[models."{LONG_ID}"]\nlike = "doubao-seedream-5-0-260128"\n',
             f"[models.{LONG_ID!r}]: the model id has {len(LONG_ID)} characters"),
            ('[models."doubao-seedream-4-5-251128"]\ndefault_size = "banana"\n',
             "[models.'doubao-seedream-4-5-251128']: default_size: 'banana' is not a size; Seedream 4.5 takes 2K"),
            ('default_model = "Seedream 9"\n',
             "default_model 'Seedream 9' is not offered by aiearth; choose one of: doubao-seedream-5-0-260128"),
        ):
            catalog.write_text(table, encoding="utf-8")
            env = _bot_env(w, tmp_path, MODEL_CATALOG_FILE=str(catalog))
            code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=20)
            assert code == 2, out
            _one_clean_line(out, f"configuration error: {catalog}: {said}")


async def test_imagine_count_with_a_seed_on_a_gateway_with_n_makes_different_images(tmp_path):
    # README: "with count > 1 image k uses seed + k - 1, so the images differ". gogogotoken.com takes
    # "n"; one call with n=3 and seed 7 would bill the same image three times.
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'[models."{SEEDREAM_3_T2I.id}"]\nlike = "{SEEDREAM_3_T2I.id}"\nprice_usd = "0.03"\n')
    async with world(tmp_path, flavour="gogogotoken-com", model_catalog_file=catalog) as w:
        flavour = w.gateway.flavour
        w.gateway.flavour = dataclasses.replace(
            flavour, models={**flavour.models, SEEDREAM_3_T2I.id: RULES[SEEDREAM_3_T2I.id]}
        )
        done = await w.run("imagine", {"prompt": "a cat", "model": SEEDREAM_3_T2I.id, "count": 3, "seed": 7})
        assert len(done.files()) == 3, done.all_text()
        bodies = [r.json for r in w.gateway.generation_requests]
        assert sorted((b["seed"], b.get("n")) for b in bodies) == [(7, None), (8, None), (9, None)]
        [row] = await w.ledger_rows()
        assert (row["images_billed"], row["charged_micros"]) == (3, 90_000)
