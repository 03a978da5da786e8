"""The PNG chart of a spend report: server spend per UTC day, stacked by model or by member.

Drawn with matplotlib's object API on the Agg canvas (no pyplot global state, so it is safe in
a worker thread): call ``render_chart`` through ``asyncio.to_thread``. matplotlib is the
``charts`` extra; ``chart_available()`` says whether it is installed.
"""

from __future__ import annotations

import functools
import importlib.util
import io
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from pipeline.spend_report import MAX_SERIES, GroupBy, SpendReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MAX_SERIES", "Label", "chart_available", "chart_series", "draw_chart", "render_chart"]
# A series' name, or its choices: the first the legend's fonts can draw, else the last (a Chinese
# name needs a CJK font, which a plain server lacks: drawn anyway, it is a row of empty boxes).
Label = str | tuple[str, ...]
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei")


def chart_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


@functools.cache
def _fonts() -> tuple[str, ...]:
    from matplotlib import font_manager  # noqa: PLC0415 - optional dependency

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return ("DejaVu Sans", *(name for name in _CJK_FONTS if name in installed))


@functools.cache
def _drawable() -> frozenset[int]:
    """The characters the legend's fonts have glyphs for."""
    from matplotlib import font_manager, ft2font  # noqa: PLC0415 - optional dependency

    covered: set[int] = set()
    for name in _fonts():
        path = font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
        covered.update(ft2font.FT2Font(path).get_charmap())
    return frozenset(covered)


def _shown(label: Label) -> str:
    if isinstance(label, str):
        return label
    glyphs = _drawable()
    return next((text for text in label if all(ord(c) in glyphs or c.isspace() for c in text)), label[-1])


def chart_series(report: SpendReport, by: GroupBy, others: str) -> dict[str, dict]:
    """The chart's series, largest first: the first `MAX_SERIES` in the report's own ranking (ties
    broken alike, so the names looked up for its first members are those of the series), then
    the rest summed under `others`."""
    series = dict(report.daily(by))
    if rest := report.others(by):
        series[others] = rest
    return series


def render_chart(report: SpendReport, by: GroupBy, labels: Mapping[str, Label], others: Label) -> bytes:
    """PNG bytes. ``labels`` names the series (model id or member id -> text shown)."""
    out = io.BytesIO()
    draw_chart(report, by, labels, others).savefig(out, format="png")
    return out.getvalue()


def draw_chart(report: SpendReport, by: GroupBy, labels: Mapping[str, Label], others: Label) -> Figure:
    """The chart as a matplotlib figure (on an Agg canvas), laid out, not yet saved."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - optional dependency
    from matplotlib.figure import Figure  # noqa: PLC0415

    days = report.days
    others = _shown(others)
    series = chart_series(report, by, others)

    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(days)))
    bottom = [0.0] * len(days)
    for key, per_day in series.items():
        # floats only for drawing; the amounts themselves stay integer micro-dollars
        heights = [float(Decimal(per_day.get(day, 0)).scaleb(-6)) for day in days]
        label = _shown(labels.get(key, key))  # matplotlib leaves a label starting with "_" out of the legend
        axes.bar(positions, heights, bottom=bottom, label=f" {label}" if label.startswith("_") else label, width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, len(days) // 10)
    axes.set_xticks(positions[::step], [day.strftime("%m-%d") for day in days[::step]])
    axes.set_ylabel("USD")
    axes.set_xlim(-0.6, len(days) - 0.4)
    axes.set_ylim(bottom=0)
    axes.grid(axis="y", alpha=0.3)
    if series:
        # Outside the plot area, to its right: inside, up to seven entries would cover the bars.
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                    prop={"family": list(_fonts()), "size": "small"})
    figure.tight_layout()  # makes room for the legend beside the plot
    return figure
