"""/spend's per-member lines against each member's own /usage and /history, and
the week's boundaries (reserved with the ledger's clock, as tests/e2e/test_midnight.py does)."""

from __future__ import annotations

from datetime import timedelta

import pipeline.report_chart as report_chart
from storage.reports import period_bounds
from tests.doubles.image_gateway_double import Fault
from tests.e2e.test_admin_quotas import server
from tests.e2e.test_midnight import UNLIMITED, record
from tests.e2e.test_reports import csv_rows, spend


def member_line(text: str, user) -> str:
    [line] = [line for line in text.splitlines() if line.startswith(f"· <@{user.id}>")]
    return line


async def test_spend_top_members_line_agrees_with_what_the_member_was_charged(tmp_path):
    # Alice gets 2 of her 3 images (the third was billed by the gateway but its download failed).
    # Her /usage says "Spent this month: $0.324" and /history "$0.162 (charged $0.00)" for the lost
    # one; the owner's /spend "Top members" line used to say only "$0.486 (3 images)": the same
    # member and month, two amounts, and nothing said the $0.162 was the server's loss.
    async with server(tmp_path, image_max_retries=0) as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "kept", "count": 2})
        w.gateway.script(Fault.missing_file())
        await w.run("imagine", {"prompt": "lost"})
        await w.run("imagine", {"prompt": "bob's", "count": 2}, user=w.bob)

        usage = (await w.run("usage", {})).all_text()
        assert "Spent this month: $0.324" in usage, usage
        history = (await w.run("history", {}, user=w.admin)).all_text()
        assert "$0.162 (charged $0.00) · lost" in history, history
        text = (await spend(w, {})).all_text()
        assert "Total spend: $0.81 (charged to members for delivered images: $0.648)" in text, text
        assert member_line(text, w.bob) == f"· <@{w.bob.id}>: $0.324 (2 images)", text
        assert member_line(text, w.alice) == f"· <@{w.alice.id}>: $0.486 (3 images; charged $0.324)", text


async def test_week_boundaries_spend_csv_and_chart_agree(tmp_path, monkeypatch):
    # A request reserved at the week's first second is in /spend week, its CSV and
    # its chart (on its own day); one a second earlier is in none of them; the chart's bars add
    # up to the total, per member.
    charts = []
    draw = report_chart.draw_chart

    def spy(report, by, labels, others):
        charts.append((report_chart.chart_series(report, by, others), report.days))
        return draw(report, by, labels, others)

    monkeypatch.setattr(report_chart, "draw_chart", spy)
    async with server(tmp_path) as w:
        await w.start_bot()
        start, _end = period_bounds("week")
        for moment, images in ((start, 2), (start - timedelta(seconds=1), 3)):
            rid = await w.storage.ledger.reserve(record(w, w.bob, images=images), limits=UNLIMITED, now=moment)
            await w.storage.ledger.settle(rid, billed=images, delivered=images)
        await w.run("imagine", {"prompt": "today", "count": 1})
        report = await spend(w, {"period": "week", "chart_by": "member"})
        text = report.all_text()
        assert "Total spend: $0.486 " in text, text  # 2 + 1 images at $0.162, not the 3 before the week
        assert [r["created_at_utc"][:10] for r in csv_rows(report)] == [f"{start:%Y-%m-%d}",
                                                                         f"{period_bounds('day')[0]:%Y-%m-%d}"]
        [(series, days)] = charts
        assert len(days) == 7 and days[0] == start.date()
        assert series[str(w.bob.id)] == {start.date(): 324_000}, series
        assert sum(sum(d.values()) for d in series.values()) == 486_000
