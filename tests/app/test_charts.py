"""app.charts and app.filters are pure: frames in, figures out; period arithmetic on dates only."""

from __future__ import annotations

from datetime import date, datetime

import plotly.graph_objects as go
import polars as pl
from changeboard.app import charts, filters

from changeboard.reports import cab_charts, palette

TREND = pl.DataFrame(
    {
        "period_start": [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)],
        "changes_opened": [95, 128, 182],
        "completed_count": [99, 106, 90],
        "change_success_numerator": [94, 98, 86],
        "change_success_rate": [0.9494949, 0.9245283, 0.9555556],
        "failed_count": [27, 34, 22],
        "failed_rate": [0.2727, 0.3208, 0.2444],
        "successful_count": [80, 85, 70],
        "successful_with_issues_count": [14, 13, 16],
        "unsuccessful_count": [5, 8, 4],
        "request_lead_time_median_hours": [69.9, 65.1, 74.2],
        "request_lead_time_p90_hours": [200.0, 210.0, 250.0],
    }
)


def test_volume_bars_draw_the_published_counts() -> None:
    fig = charts.volume_bars(
        TREND,
        x="period_start",
        series={"changes_opened": "Opened", "completed_count": "Completed"},
        title="Volume",
    )
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["Opened", "Completed"]
    assert list(fig.data[0].y) == [95, 128, 182]
    assert fig.layout.title.text == "Volume"


def test_rate_trend_carries_numerators_and_target() -> None:
    fig = charts.rate_trend(
        TREND,
        x="period_start",
        series={"change_success_rate": "Change success rate"},
        numerators={"change_success_rate": ("change_success_numerator", "completed_count")},
        target=0.95,
        title="Success",
    )
    assert list(fig.data[0].y) == TREND["change_success_rate"].to_list()
    assert [tuple(c) for c in fig.data[0].customdata] == [(94, 99), (98, 106), (86, 90)]
    assert fig.layout.shapes[0].y0 == 0.95
    assert fig.layout.yaxis.tickformat == ".0%"


def test_outcome_mix_is_stacked_with_outcome_colours() -> None:
    fig = charts.outcome_mix(
        TREND, x="period_start", title="Mix", names={"successful_with_issues": "With issues"}
    )
    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["successful", "With issues", "unsuccessful"]
    assert [t.marker.color for t in fig.data] == list(charts.OUTCOME_COLOURS.values())
    assert list(fig.data[2].y) == [5, 8, 4]


def test_hours_trend_and_rate_by_category() -> None:
    fig = charts.hours_trend(
        TREND,
        x="period_start",
        median="request_lead_time_median_hours",
        p90="request_lead_time_p90_hours",
        title="LT",
    )
    assert [t.name for t in fig.data] == ["p90", "median"]
    rows = pl.DataFrame(
        {"dimension_value": ["normal", "standard"], "rate": [0.932, 1.0], "n": [41, 37], "d": [44, 37]}
    )
    fig = charts.rate_by_category(
        rows, category="dimension_value", rate="rate", numerator="n", denominator="d", title="By"
    )
    assert list(fig.data[0].text) == ["93.2%  (41/44)", "100.0%  (37/37)"]


def test_distribution_one_box_per_group_in_order() -> None:
    df = pl.DataFrame({"measure": ["a", "a", "b", "c"], "hours": [1.0, 2.0, 3.0, 4.0]})
    fig = charts.distribution(df, value="hours", group="measure", order=["c", "b", "a", "missing"], title="D")
    assert [t.name for t in fig.data] == ["c", "b", "a"]
    assert fig.layout.xaxis.type == "log"


def test_scatter_and_bars() -> None:
    df = pl.DataFrame(
        {
            "start": [datetime(2026, 11, 27, 10), datetime(2026, 11, 28, 10)],
            "end": [datetime(2026, 11, 27, 12), datetime(2026, 11, 28, 11)],
            "row": ["CHG1", "CHG2"],
            "flag": ["scheduled", "in a blackout window"],
            "score": [12.0, -4.0],
        }
    )
    fig = charts.score_bars(df, category="row", value="score", title="S")
    assert list(fig.data[0].marker.color) == [charts.COLOURS["good"], charts.COLOURS["bad"]]
    fig = charts.calendar_scatter(df, x="start", y="row", colour="flag", text="row", title="C")
    assert len(fig.data) == 2
    fig = charts.category_histogram(df, column="flag", title="H")
    assert list(fig.data[0].y) == ["scheduled", "in a blackout window"]


def test_period_helpers() -> None:
    assert filters.next_period(date(2026, 12, 1), "month") == date(2027, 1, 1)
    assert filters.previous_period(date(2026, 1, 1), "month") == date(2025, 12, 1)
    assert filters.next_period(date(2026, 11, 23), "week") == date(2026, 11, 30)
    assert filters.periods_back(date(2026, 11, 1), "month", 12) == date(2025, 12, 1)
    assert filters.period_label(date(2026, 11, 1), "month") == "Nov 2026"
    assert filters.period_label(date(2026, 11, 23), "week") == "week of 23 Nov 2026 (W48)"


def test_kpi_slice_uses_one_dimension_and_reports_the_rest() -> None:
    f = filters.Filters(grain="month", period_start=date(2026, 11, 1))
    assert f.kpi_slice() == ("all", "all", [])
    f = filters.Filters(
        grain="month", period_start=date(2026, 11, 1), dims={"service": "Payments", "risk": "high"}
    )
    assert f.kpi_slice() == ("service", "Payments", ["Risk"])
    assert f.record_filters() == {"service_name": "Payments", "risk": "high"}
    assert f.period_end == date(2026, 12, 1)
    assert f.previous_start == date(2026, 10, 1)


def test_schedule_is_time_ordered_grouped_and_coloured_like_the_cab_timeline() -> None:
    df = pl.DataFrame(
        {
            "planned_start_at": [
                datetime(2026, 12, 5, 10),
                datetime(2026, 12, 6, 10),
                datetime(2026, 12, 5, 8),
                datetime(2026, 12, 7, 9),
            ],
            "planned_end_at": [
                datetime(2026, 12, 5, 12),
                datetime(2026, 12, 6, 11),
                datetime(2026, 12, 5, 9),
                datetime(2026, 12, 7, 10),
            ],
            "number": ["CHG2", "CHG3", "CHG1", "CHG4"],
            "service_name": ["Billing", "Email", None, "Billing"],
            "risk_level": ["high", "low", None, "medium"],
            "has_collision": [True, False, None, False],
            "title": ["a", "b", "c", "d"],
        }
    )
    fig = charts.schedule(
        df,
        group="service_name",
        title="S",
        hover=[("number", "Change"), ("title", "Title")],
        bands=[(datetime(2026, 12, 5), datetime(2026, 12, 5, 6), "freeze (all)")],
    )
    bars = fig.data[0]
    # groups by their first planned start, changes by planned start within a group
    assert list(bars.y[0]) == ["(none)", "Billing", "Billing", "Email"]
    assert list(bars.y[1]) == ["CHG1", "CHG2", "CHG4", "CHG3"]
    assert bars.x[1] == 2 * 3600 * 1000
    # the CAB pack's colour meaning (one palette): risk indicator fill, collision outline and hatch
    assert list(bars.marker.color) == [
        palette.RISK_UNKNOWN,
        palette.RISK_COLOURS["high"],
        palette.RISK_COLOURS["medium"],
        palette.RISK_COLOURS["low"],
    ]
    assert list(bars.marker.line.color)[1] == palette.COLLISION
    assert list(bars.marker.pattern.shape) == ["", "/", "", ""]
    assert cab_charts.RISK_COLOURS is palette.RISK_COLOURS
    assert "risk indicator high" in [t.name for t in fig.data]
    assert bars.hovertemplate.startswith("Change: %{customdata[0]}<br>Title: %{customdata[1]}")
    # interactive: a range slider to zoom, the time axis above and below the bars, blackout shaded
    assert fig.layout.xaxis.rangeslider.visible is True
    assert fig.layout.xaxis2.side == "top"
    assert fig.layout.xaxis2.matches == "x"
    assert any(t.xaxis == "x2" for t in fig.data)
    assert fig.layout.shapes[0].fillcolor == palette.BLACKOUT
    # bounded by rows: a taller schedule for more changes
    assert fig.layout.height == max(360, 250 + charts.SCHEDULE_ROW_PX * 4)
