"""What /series sends the model: the member's prompt, plus a sentence asking for the count
unless the prompt already asks for that many images."""

from __future__ import annotations

import pytest

from pipeline.series_prompt import fit_series_prompt, series_prompt

EN = " Generate {} images as a series."
ZH = "。生成一组共 {} 张图片。"


@pytest.mark.parametrize(
    ("prompt", "count", "expected"),
    [
        # The count is stated: a number next to a word for images. Sent unchanged.
        ("Create 4 images of a dog", 4, "Create 4 images of a dog"),
        ("a comic in four panels", 4, "a comic in four panels"),
        ("a 3-panel strip about a cat", 3, "a 3-panel strip about a cat"),
        ("three different pictures of a fox", 3, "three different pictures of a fox"),
        ("15 frames of a bouncing ball", 15, "15 frames of a bouncing ball"),
        ("一只猫的四格漫画", 4, "一只猫的四格漫画"),
        ("两张对比图", 2, "两张对比图"),
        ("生成 12 张海报", 12, "生成 12 张海报"),
        ("十二幅生肖画", 12, "十二幅生肖画"),
        ("3 images of cats and 2 images of dogs", 5, "3 images of cats and 2 images of dogs"),
        # A number about something else: the sentence is added.
        ("a comic about a cat", 4, "a comic about a cat." + EN.format(4)),
        ("a comic about a cat.", 3, "a comic about a cat." + EN.format(3)),
        ("two cats playing chess", 2, "two cats playing chess." + EN.format(2)),
        ("a 4K storyboard", 4, "a 4K storyboard." + EN.format(4)),
        ("4:3 postcards of Paris", 3, "4:3 postcards of Paris." + EN.format(3)),
        ("16:9 images of a beach", 9, "16:9 images of a beach." + EN.format(9)),
        ("four seasons of one tree", 4, "four seasons of one tree." + EN.format(4)),
        ("merge the 2 pictures into a story", 3, "merge the 2 pictures into a story." + EN.format(3)),
        ("十分可爱的小猫", 10, "十分可爱的小猫" + ZH.format(10)),
        ("二次元少女", 2, "二次元少女" + ZH.format(2)),
        ("十二生肖", 12, "十二生肖" + ZH.format(12)),
        ("第二张是狗", 2, "第二张是狗" + ZH.format(2)),
        ("一只猫的漫画", 6, "一只猫的漫画" + ZH.format(6)),
        ("一组猫的图片", 4, "一组猫的图片" + ZH.format(4)),  # "一组": one set, not one image
        ("十十张猫", 3, "十十张猫" + ZH.format(3)),  # not a number at all
    ],
)
def test_the_sentence_is_added_unless_the_prompt_asks_for_that_many_images(prompt, count, expected):
    assert series_prompt(prompt, count) == expected
    assert fit_series_prompt(prompt, count, 2000) == expected


@pytest.mark.parametrize(
    ("prompt", "count", "expected"),
    [
        ("Create 3 images of a dog", 5, "Create 3 images of a dog." + EN.format(5)),
        ("six pictures of the sea", 4, "six pictures of the sea." + EN.format(4)),
        ("画三张猫的图", 5, "画三张猫的图" + ZH.format(5)),
        ("combine 2 photos into a story", 4, "combine 2 photos into a story." + EN.format(4)),
    ],
)
def test_a_prompt_asking_for_another_number_gets_the_members_count(prompt, count, expected):
    # The count option is the member's explicit choice: it is said last, and max_images holds to it.
    assert fit_series_prompt(prompt, count, 2000) == expected
