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
    # server administration (/settings, /blocklist, /quota, /budget) and reports
    "settings": "设置",
    "channels": "频道",
    "required-role": "必需身份组",
    "approval": "审核",
    "defaults": "默认值",
    "show": "查看",
    "blocklist": "屏蔽词",
    "add": "添加",
    "remove": "移除",
    "list": "列表",
    "quota": "配额",
    "set": "设定",
    "exempt": "豁免",
    "budget": "预算",
    "spend": "花费",
    "history": "历史",
    "term": "词语",
    "channel": "频道",
    "clear": "清除",
    "role": "身份组",
    "mode": "模式",
    "watermark": "水印",
    "reset": "重置",
    "member": "成员",
    "daily_images": "每日图片数",
    "monthly_usd": "每月美元",
    "amount": "金额",
    "warn_percent": "预警百分比",
    "warn_channel": "预警频道",
    "period": "时段",
    "chart_by": "图表分组",
}

TEXTS: dict[str, str] = {
    # /imagine
    "Generate images from a text prompt": "根据文字提示生成图片",
    "What to draw (English or Chinese)": "要画什么（中文或英文均可）",
    "Which model (default: the server's)": "使用哪个模型（默认：服务器的设置）",
    "A size such as 2K or 2048x2048": "尺寸，例如 2K 或 2048x2048",
    "How many images, 1 to 4": "图片数量，1 到 4 张",
    "A seed for repeatable results (models that support it)": "随机种子，用于复现结果（仅部分模型支持）",
    # /usage
    "Your images today, your spend this month, the server budget": "你今日的图片数、本月花费和服务器预算",
    # /edit
    "Change attached images with a prompt": "用提示词修改附带的图片",
    "What to change (English or Chinese)": "要修改什么（中文或英文均可）",
    "The image to edit": "要修改的图片",
    "Another reference image": "另一张参考图",
    # /series
    "Generate a series of related images": "生成一组相关的图片",
    "What the series shows (English or Chinese)": "这组图片的内容（中文或英文均可）",
    f"How many images, {MIN_SERIES} to {MAX_TOTAL_IMAGES} (fewer with reference images)": (
        f"图片数量，{MIN_SERIES} 到 {MAX_TOTAL_IMAGES} 张（带参考图时更少）"
    ),
    "A reference image": "一张参考图",
    "…": "…",  # discord.py's description for an option without one
    # /settings
    "Image settings for this server": "本服务器的图片设置",
    "Where image commands work": "图片命令可以在哪些频道使用",
    "Allow image commands in this channel and its threads (only the listed)": "允许在此频道及其子区使用图片命令（之后仅限列出的频道）",
    "Stop allowing image commands in this channel": "不再允许在此频道使用图片命令",
    "Allow image commands in every channel again": "重新允许在所有频道使用图片命令",
    "Only members with this role may generate (omit to clear)": "只有拥有此身份组的成员才能生成图片（留空则清除）",
    "Send requests to a moderators' channel for approval first": "请求先发送到版主频道审核",
    "on or off": "开启或关闭",
    "on": "开启",
    "off": "关闭",
    "The moderators' channel (needed to turn it on)": "版主频道（开启时必填）",
    "The server's default model, size and watermark": "本服务器的默认模型、尺寸和水印",
    "Default model when a member picks none": "成员未选择时使用的默认模型",
    "Default size when a member gives none": "成员未填写时使用的默认尺寸",
    "Ask the gateway for a watermark": "要求图片服务添加水印",
    "Forget the server's defaults": "清除本服务器的默认值",
    "Show this server's image settings": "查看本服务器的图片设置",
    # /blocklist
    "Terms that are refused in prompts on this server": "本服务器提示词中禁止使用的词语",
    "Block a word, or a regular expression written re:<pattern>": "屏蔽一个词，或以 re:<模式> 写的正则表达式",
    "A word or phrase (matched case-insensitively), or re:<regular expression>": (
        "一个词或短语（不区分大小写），或 re:<正则表达式>"
    ),
    "Unblock a term": "取消屏蔽一个词语",
    "The term exactly as it is listed": "与列表中完全一致的词语",
    "Show the blocked terms": "查看被屏蔽的词语",
    # /quota
    "Image quotas of members and roles": "成员和身份组的图片配额",
    "Set or clear a member's or a role's daily images and monthly USD limit": (
        "设定或清除成员或身份组的每日图片数和每月美元限额"
    ),
    "The member (or choose a role)": "成员（或选择一个身份组）",
    "The role (@everyone: the server's default)": "身份组（@everyone：本服务器的默认值）",
    "Images per UTC day; 0 blocks": "每个 UTC 日的图片数；0 表示禁止",
    "US dollars per calendar month, e.g. 5 or 12.50": "每个自然月的美元金额，例如 5 或 12.50",
    "Remove a setting instead (the next level then applies)": "改为移除一项设置（随后使用下一级的设置）",
    "daily_images": "每日图片数",
    "monthly_usd": "每月美元限额",
    "both": "两者",
    "Make a role exempt from quotas (unlimited), or end that": "让身份组不受配额限制（不限），或取消豁免",
    "The role": "身份组",
    "True: unlimited; False: its quotas apply again": "True：不限；False：重新适用其配额",
    "The effective quotas of a member, a role's settings, or all settings": "成员的有效配额、身份组的设置或全部设置",
    "Whose effective quotas to explain": "要说明谁的有效配额",
    "Which role's settings to show": "要查看哪个身份组的设置",
    # /budget
    "The server's monthly image budget": "本服务器每月的图片预算",
    "Set the server's monthly budget, and optionally a warning": "设定本服务器的每月预算，可选设置预警",
    'US dollars per calendar month, e.g. 100, or "off" to remove the setting': (
        "每个自然月的美元金额，例如 100；填 \"off\" 则移除该设置"
    ),
    "Warn when this share of the budget is spent (0: no warning)": "预算花费达到此百分比时预警（0：不预警）",
    "Where the warning goes (default: the moderators' approval channel, else this one)": "预警发送到哪里（默认：审核频道，否则为此频道）",
    "The server's monthly budget, this month's spend and recent changes": "本服务器的每月预算、本月花费和最近的更改",
    # /spend, /history
    "Spend report: summary, CSV of the ledger and a chart": "花费报告：摘要、账本 CSV 和图表",
    "day: today; week: the last 7 days; month: this calendar month (UTC)": (
        "今天、最近 7 天，或本自然月（UTC）"
    ),
    "day": "今天",
    "week": "最近 7 天",
    "month": "本月",
    "Only this member's requests": "只看此成员的请求",
    "Stack the chart's bars by model or by member": "图表的柱按模型或按成员堆叠",
    "model": "按模型",
    "member": "按成员",
    "The latest requests: yours, or anyone's for moderators": "最近的请求：你的，版主可查看任何人的",
    "Whose requests (moderators only for other members)": "谁的请求（查看其他成员的请求仅限版主）",
}
