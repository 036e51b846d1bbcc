"""The sidebar's period and filters: honest periods (the newest complete one by default, a period the
data does not cover to its end labelled as to date) and filters that live in the URL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from changeboard.app import filters
from streamlit.testing.v1 import AppTest

from changeboard.paths import DataDir

ENTRY = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def test_a_period_that_holds_now_is_labelled_to_date() -> None:
    assert filters.days_covered(date(2026, 12, 1), "month", NOW) == 4
    assert filters.days_covered(date(2026, 11, 1), "month", NOW) is None
    assert filters.days_covered(date(2026, 11, 30), "week", NOW) == 5
    assert filters.period_label(date(2026, 12, 1), "month", 4) == "Dec 2026, month to date (4 of 31 days)"
    # midnight: the day that starts at "now" has not begun
    assert filters.days_covered(date(2026, 11, 1), "month", datetime(2026, 11, 26, tzinfo=UTC)) == 25


def test_pages_open_on_the_newest_complete_period() -> None:
    months = [date(2026, 12, 1), date(2026, 11, 1), date(2026, 10, 1)]
    assert filters.default_period(months, "month", NOW) == date(2026, 11, 1)
    assert filters.default_period(months[:1], "month", NOW) == date(2026, 12, 1)  # none complete
    assert filters.default_period(months, "month", None) == date(2026, 12, 1)  # "now" unknown
    assert filters.default_period([], "month", NOW) is None


def test_a_partial_period_is_compared_like_for_like_with_the_same_days_before() -> None:
    partial = filters.Filters(grain="month", period_start=date(2026, 12, 1), partial_days=4)
    assert partial.label == "Dec 2026, month to date (4 of 31 days)"
    note = partial.comparison_note
    assert note is not None
    assert "4 days" in note
    assert "like for like" in note
    assert "1–4 Nov 2026" in note
    assert partial.previous_label == "on 1–4 Nov 2026 (like for like)"
    complete = filters.Filters(grain="month", period_start=date(2026, 11, 1))
    assert complete.comparison_note is None
    assert complete.previous_label == "before"
    # a month to date longer than the month before is cut at that month's end
    march = filters.Filters(grain="month", period_start=date(2027, 3, 1), partial_days=31)
    assert march.compared_window == "1–28 Feb 2027"
    week = filters.Filters(grain="week", period_start=date(2026, 11, 30), partial_days=1)
    assert week.compared_window == "23 Nov 2026"
    assert filters.Filters(grain="week", period_start=date(2026, 11, 30), partial_days=3).compared_window == (
        "23–25 Nov 2026"
    )
    across = filters.Filters(grain="week", period_start=date(2026, 12, 7), partial_days=3)
    assert across.compared_window == "30 Nov–2 Dec 2026"


def test_combined_filters_are_named_only_when_more_than_one_is_set() -> None:
    assert filters.Filters(dims={"service": "Payments"}).combined == []
    both = filters.Filters(dims={"service": "Payments", "risk": "high"})
    assert both.combined == ["Service", "Risk"]


def test_filters_round_trip_through_the_url() -> None:
    f = filters.Filters(
        grain="week",
        period_start=date(2026, 11, 23),
        trend_periods=20,
        dims={"risk": "high", "service": "Pay"},
    )
    params = filters.to_query(f)
    assert params == {
        "grain": "week",
        "period": "2026-11-23",
        "trend": "20",
        "risk": "high",
        "service": "Pay",
    }
    state = filters.from_query(params)
    assert state["flt_grain"] == "week"
    assert state["flt_period"] == date(2026, 11, 23)
    assert state["flt_trend"] == 20
    assert state["flt_risk"] == "high"
    # a damaged or hostile link is ignored, never raised
    assert filters.from_query({"grain": "decade", "period": "yesterday", "trend": "-1"}) == {}


def _month_with_changes(data: DataDir) -> date:
    import duckdb

    con = duckdb.connect(str(data.warehouse_link), read_only=True)
    try:
        row = con.execute(
            "select min(period_start) from rpt_change_kpis where period_grain = 'month' and dimension = 'all' "
            "and completed_count > 0"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return row[0]


def test_a_shared_link_opens_the_same_view_and_the_url_follows_the_filters(app_env: DataDir) -> None:
    month = _month_with_changes(app_env)
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    at.query_params["period"] = month.isoformat()
    at.query_params["change_type"] = "normal"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["flt_period"] == month
    assert at.session_state["flt_change_type"] == "normal"
    assert at.query_params["period"] == month.isoformat()
    assert at.query_params["change_type"] == "normal"
    assert at.query_params["grain"] == "month"


def test_the_default_view_opens_on_a_complete_month(app_env: DataDir) -> None:
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    chosen = at.session_state["flt_period"]
    # the test sample is built "as of" 26 Nov 2026: November is not complete, October is
    assert chosen == date(2026, 10, 1)
    assert not any("not complete" in w.value for w in at.sidebar.warning)


def test_a_partial_month_is_labelled_and_compared_like_for_like(app_env: DataDir) -> None:
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    at.session_state["flt_period"] = date(2026, 11, 1)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.sidebar.warning]
    assert any(
        "Nov 2026, month to date (25 of 30 days)" in w and "like for like" in w and "1–25 Oct 2026" in w
        for w in warnings
    )


def test_the_request_pages_draw_no_filters(app_env: DataDir) -> None:
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    at.run()
    assert [s.label for s in at.sidebar.selectbox][:1] == ["Period"]
    for page in ("views/change_request.py", "views/my_requests.py", "views/cab_decisions.py"):
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert "Period" not in [s.label for s in at.sidebar.selectbox], page
