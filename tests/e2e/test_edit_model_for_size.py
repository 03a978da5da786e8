"""/edit naming no model picks one that takes the images and, when one does, the size asked for: on
302.ai one image at 2K is Seedream 4.0's. It used to be SeedEdit's, whatever size was asked, and the
member was told "`2K` is not a size" of a model they never chose."""

from __future__ import annotations

from tests.e2e.harness import world
from tests.e2e.test_edit import image_bytes


async def test_edit_with_one_image_and_a_size_uses_a_model_that_takes_that_size(tmp_path):
    one = ("photo.png", image_bytes("PNG"), "image/png")
    async with world(tmp_path, flavour="302ai") as w:
        # Two images and 2K: Seedream 4.0 (the first model taking two) makes it.
        two = await w.run("edit", {"prompt": "brighter", "size": "2K"}, attachments=[one, one])
        assert len(two.files()) == 1, two.all_text()
        # One image and 2K, no model named: the member is told "`2K` is not a size; SeedEdit 3.0
        # takes adaptive." although they chose no model and the gateway's Seedream 4.0 takes 2K.
        single = await w.run("edit", {"prompt": "brighter", "size": "2K"}, attachments=[one])
        assert "is not a size" not in single.all_text(), single.all_text()
        assert len(single.files()) == 1, single.all_text()
