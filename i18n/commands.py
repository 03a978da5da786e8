"""Command names, descriptions, option names and choices in Simplified Chinese (Discord's zh-CN).

Keyed by the English text as written in the cogs (the source the translator receives). Names
(commands, groups, options) are separate from texts because Discord restricts names: slash
command and option names are lowercase, without spaces, 1-32 characters (Chinese characters
are fine); context-menu names may have spaces and capitals. tests/unit/test_i18n.py checks
that every command the bot registers is covered and that every name is valid.
"""

from __future__ import annotations

from image_gateway.catalog import MAX_TOTAL_IMAGES, MIN_SERIES

NAMES: dict[str, str] = {
    # commands
    "imagine": "画图",
    "edit": "改图",
    "series": "组图",
    "usage": "用量",
    # context menu (spaces and capitals allowed)
    "Edit with Seedream": "用 Seedream 改图",
    # options
    "prompt": "提示词",
    "model": "模型",
    "size": "尺寸",
    "count": "数量",
    "seed": "种子",
    "image": "图片",
    "image2": "图片2",
    "image3": "图片3",
    "image4": "图片4",
}

TEXTS: dict[str, str] = {
    # /imagine
    "Generate images from a text prompt": "根据文字提示生成图片",
    "What to draw (English or Chinese)": "要画什么(中文或英文均可)",
    "Which model (default: the server's)": "使用哪个模型(默认:服务器的设置)",
    "A size such as 2K or 2048x2048": "尺寸,例如 2K 或 2048x2048",
    "How many images, 1 to 4": "图片数量,1 到 4 张",
    "A seed for repeatable results (models that support it)": "随机种子,用于复现结果(仅部分模型支持)",
    # /usage
    "Your images today, your spend this month, the server budget": "你今日的图片数、本月花费和服务器预算",
    # /edit
    "Change attached images with a prompt": "用提示词修改附带的图片",
    "What to change (English or Chinese)": "要修改什么(中文或英文均可)",
    "The image to edit": "要修改的图片",
    "Another reference image": "另一张参考图",
    # /series
    "Generate a series of related images": "生成一组相关的图片",
    "What the series shows (English or Chinese)": "这组图片的内容(中文或英文均可)",
    f"How many images, {MIN_SERIES} to {MAX_TOTAL_IMAGES} (fewer with reference images)": (
        f"图片数量,{MIN_SERIES} 到 {MAX_TOTAL_IMAGES} 张(带参考图时更少)"
    ),
    "A reference image": "一张参考图",
}
