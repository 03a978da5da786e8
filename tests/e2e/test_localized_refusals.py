"""A refused option reads wholly in the member's language: the option's name, the reason and the
list of what is allowed; only the values themselves (2K, 2048x2048, a model's name) stay as typed."""

from __future__ import annotations

import io
import re

from PIL import Image

from tests.e2e.harness import world

ZH, EN = "zh-CN", "en-US"
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
# The information in a refusal: numbers (3,686,400), sizes (2048x2048, 2K) and -1.
FACTS = re.compile(r"-?\d+(?:[,.]\d+)*(?:x\d+|K)?")
SEEDEDIT = "doubao-seededit-3-0-i2i-250628"


def png() -> tuple[str, bytes, str]:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 120, 200)).save(buf, "PNG")
    return ("ref.png", buf.getvalue(), "image/png")


# id, command, options, attachments, the option's name in Chinese, facts both languages must give
CASES = [
    ("size", "imagine", {"prompt": "a cat", "size": "1024x1024"}, 0, "尺寸",
     {"1024x1024", "1,048,576", "3,686,400", "10,404,496", "2K", "3K", "2048x2048"}),
    ("not-a-size", "imagine", {"prompt": "a cat", "size": "huge"}, 0, "尺寸", {"2K", "3K", "2048x2048"}),
    ("seed", "imagine", {"prompt": "a cat", "seed": 42}, 0, "种子", {"5.0"}),
    ("references", "edit", {"prompt": "a hat", "model": SEEDEDIT}, 2, "参考图", {"1", "3.0"}),
    ("empty-prompt", "imagine", {"prompt": "   "}, 0, "提示词", set()),
]  # fmt: skip
VALUES = ("Seedream 5.0 Lite", "SeedEdit 3.0", "huge")  # what the member typed or picked, kept as is


def without_values(text: str) -> str:
    for value in VALUES:
        text = text.replace(value, "")
    return text


async def test_a_refused_option_is_explained_wholly_in_the_members_language(tmp_path):
    async with world(tmp_path, flavour="aiearth") as w:
        for case, command, options, references, name, facts in CASES:
            files = [png() for _ in range(references)]
            zh = (await w.run(command, options, locale=ZH, attachments=files)).all_text()
            en = (await w.run(command, options, locale=EN, attachments=files)).all_text()

            assert CJK.search(zh) and name in zh, (case, zh)
            assert LATIN_WORD.findall(without_values(zh)) == [], (case, zh)
            assert "can't be used" in en and not CJK.search(en), (case, en)
            # the same information in both: every number and size the English names, the Chinese names
            assert set(FACTS.findall(zh)) == set(FACTS.findall(en)), (case, zh, en)
            assert facts <= set(FACTS.findall(zh)), (case, zh)
        assert w.gateway.generation_requests == []
        assert await w.ledger_rows() == []


async def test_the_allowed_sizes_read_naturally_in_both_languages(tmp_path):
    async with world(tmp_path, flavour="aiearth") as w:
        options = {"prompt": "a cat", "size": "1024x1024", "model": "doubao-seedream-4-5-251128"}
        zh = (await w.run("imagine", options, locale=ZH)).all_text()
        en = (await w.run("imagine", options, locale=EN)).all_text()
        assert "2K、4K 或总像素在 3,686,400 到 16,777,216 之间的宽×高（例如 2048x2048）" in zh, zh
        assert "2K, 4K, or WxH between 3,686,400 and 16,777,216 pixels (e.g. 2048x2048)" in en, en
