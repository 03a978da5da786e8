"""The spend chart's series follow the report's ranking, so the member names looked up for the
report's first members are exactly the chart's series (ties included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.report_chart import MAX_SERIES, chart_series, draw_chart, render_chart
from pipeline.spend_report import build_report
from storage.requests import LedgerRow

START = datetime(2026, 11, 1, tzinfo=UTC)


def row(n: int, user_id: int) -> LedgerRow:
    when = START + timedelta(hours=n)
    return LedgerRow(
        id=n, guild_id=1, channel_id=2, user_id=user_id, command="imagine", model="m", size="2K", prompt="p",
        images_requested=1, images_billed=1, images_delivered=1, unit_price_micros=162_000,
        reserved_micros=162_000, cost_micros=162_000, charged_micros=162_000, status="settled",
        error_code=None, created_at=when, settled_at=when,
    )  # fmt: skip


def test_tied_members_are_the_same_in_the_chart_as_in_the_report() -> None:
    # Seven members with one image each, recorded in an order unlike the report's tie-break.
    rows = [row(n, user_id) for n, user_id in enumerate((906, 905, 904, 903, 902, 901, 900))]
    report = build_report(rows, START, START + timedelta(days=30))
    series = chart_series(report, "member", "others")
    named = [share.key for share in report.by_member[:MAX_SERIES]]
    assert list(series)[:MAX_SERIES] == named
    assert list(series)[MAX_SERIES:] == (["others"] if len(rows) > MAX_SERIES else [])


def test_the_legend_is_beside_the_bars_not_over_them() -> None:
    # Seven series (six and "others") over a month: a legend inside the plot covered bars.
    rows = [row(n, 900 + n % 9) for n in range(24 * 30)]
    report = build_report(rows, START, START + timedelta(days=30))
    labels = {key: f"member with a long name {key}" for key in report.daily("member")}
    figure = draw_chart(report, "member", labels, "others")
    figure.canvas.draw()
    [axes] = figure.axes
    legend = axes.get_legend().get_window_extent()
    assert len(axes.get_legend().get_texts()) == MAX_SERIES + 1
    assert not legend.overlaps(axes.get_window_extent())  # clear of the plot area
    assert figure.bbox.x0 <= legend.x0 and legend.x1 <= figure.bbox.x1  # and inside the image
    assert figure.bbox.y0 <= legend.y0 and legend.y1 <= figure.bbox.y1
    assert render_chart(report, "member", labels, "others").startswith(b"\x89PNG")
