"""/imagine end to end: real discord.py and aiohttp against the Discord and gateway doubles."""

from __future__ import annotations

import io

from PIL import Image

from tests.e2e.harness import world


async def test_imagine_delivers_attachments_and_records_spend(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("imagine", {"prompt": "a red fox in snow", "count": 2})
        files = inter.files()
        assert len(files) == 2, inter.all_text()
        for name, data in files:
            Image.open(io.BytesIO(data)).verify()
        text = inter.all_text()
        assert "a red fox in snow" in text
        assert "$0.32" in text  # 2 x $0.162 for Seedream 4.0 on gogogotoken.com
        rows = await w.ledger_rows()
        assert len(rows) == 1
        assert rows[0]["status"] == "settled"
        assert rows[0]["cost_micros"] == 324_000
        assert rows[0]["images_delivered"] == 2
