"""A Chinese-speaking admin reads /spend (花费) with its PNG chart. The chart's legend holds the
bot's own Chinese text ("其他", i18n spend.others in zh_cn) and the members' display names, which
in a Chinese server are mostly Chinese."""

from __future__ import annotations

import warnings

from tests.e2e.harness import world
from tests.e2e.staff import add_staff

ZH = "zh-CN"
NAMES = ["小明", "小红", "阿强", "老王", "小李", "大刘", "张三"]  # seven: the seventh is stacked under "其他"


async def test_spend_chart_legend_renders_the_chinese_texts_it_shows(tmp_path):
    """The legend's Chinese entries ("其他" and the members' Chinese names) were drawn as empty
    boxes on a machine without a CJK font (nothing the bot installs provides one): the chart now
    draws what its fonts can, a member's username and "Others" there, and every name where a CJK
    font is installed. Either way no glyph is missing."""
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        members = []
        for name in NAMES:
            user = w.discord.add_user(f"u{len(members)}", global_name=name)
            w.discord.add_member(w.guild, user)
            members.append(user)
        await w.start_bot()
        for user in members:
            done = await w.run("imagine", {"prompt": "一只猫"}, user=user, locale=ZH)
            assert len(done.files()) == 1, done.all_text()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            spend = await w.run("spend", {"chart_by": "member"}, user=staff.admin, locale=ZH, timeout=30)
        files = [name for name, _ in spend.files()]
        assert any(name.endswith(".png") for name in files), (files, spend.all_text())  # the chart is there
        missing = sorted({str(warning.message) for warning in caught if "missing from font" in str(warning.message)})
        assert missing == [], (
            "the zh-CN /spend chart draws its Chinese legend entries (其他 and the members' names) as boxes: "
            + "; ".join(missing[:6])
        )
