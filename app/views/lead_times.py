"""Lead times: whole distributions (not just medians) of request, approval, queue and implementation
times and lead time to production, by change type and assignment group."""

from __future__ import annotations

import polars as pl
import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import (
    Tile,
    chart,
    described,
    dimension_filters_reason,
    drilldown,
    empty_state,
    fmt,
    labelled,
    published_kpis,
    record_scope,
    scope_note,
    section,
    tile_row,
)

LEAD_TIMES = (
    Tile(
        "request_lead_time",
        evidence=lambda r: (
            f"p90 {fmt(r['request_lead_time_p90_hours'], 'hours')} · {fmt(r['request_lead_time_count'])} changes"
        ),
    ),
    Tile(
        "lead_time_to_production",
        evidence=lambda r: (
            f"p90 {fmt(r['lead_time_to_production_p90_hours'], 'hours')} · "
            f"{fmt(r['lead_time_to_production_count'])} changes ending in the period"
        ),
    ),
    Tile("completed_count", evidence=lambda r: "the population of the distributions below"),
)

f = filters.current()
st.title("Lead times")
if f.period_start is None:
    empty_state("No changes in the warehouse yet.", "Ingest exports and run `changeboard build`.")
    st.stop()

scope_note(
    f"{described(f)} · completed changes closed in the period · durations in hours (UTC)", [], kpi_scope=""
)
rf = f.record_filters()
dq = data.metric_confidence()
kpis = published_kpis(f)
trend = kpis.trend
if kpis.disabled:
    section("Published medians", disabled=kpis.disabled)
elif kpis.current is not None:
    tile_row(
        LEAD_TIMES,
        kpis.current,
        previous=kpis.previous,
        dq=dq,
        trend=trend,
        previous_label=kpis.previous_label,
        scope=record_scope(f),  # a median's Records: the changes it is the median of
    )

points = data.durations(start=f.period_start, end=f.period_end, filters=rf)
if points.is_empty():
    empty_state(f"No completed changes with durations in {f.label}.")
else:
    st.subheader(
        "Distributions", help="Box: quartiles and median; whiskers 1.5 IQR; dots are outliers. Log scale."
    )
    chart(
        charts.distribution(
            points,
            value="hours",
            group="measure",
            order=list(data.DURATION_COLUMNS.values()),
            title=f"Every duration of the completed changes closed in {f.label}",
        ),
        key="lt_all",
    )
    measure = st.segmented_control(
        "Measure",
        list(data.DURATION_COLUMNS.values()),
        default="Request lead time",
        required=True,
        key="lt_measure",
    )
    chosen = points.filter(pl.col("measure") == measure)
    left, right = st.columns(2)
    with left:
        chart(
            charts.distribution(
                chosen,
                value="hours",
                group="change_type",
                order=["standard", "normal", "emergency", "other"],
                title=f"{measure} by change type",
            ),
            key="lt_type",
        )
    with right:
        busiest = (
            data.assignment_groups()
            .sort("change_count", descending=True)["assignment_group"]
            .head(12)
            .to_list()
        )
        chart(
            charts.distribution(
                chosen.filter(pl.col("assignment_group").is_in(busiest)),
                value="hours",
                group="assignment_group",
                order=[g for g in busiest if g in set(chosen["assignment_group"].to_list())],
                title=f"{measure} by assignment group (12 busiest)",
            ),
            key="lt_group",
        )

if not section(f"Trend: last {f.trend_periods} {f.grain}s", disabled=kpis.disabled) or trend.is_empty():
    pass
else:
    left, right = st.columns(2)
    with left:
        chart(
            charts.hours_trend(
                trend,
                x="period_start",
                median="request_lead_time_median_hours",
                p90="request_lead_time_p90_hours",
                title="Request lead time (opened → closed)",
            ),
            key="lt_trend_request",
        )
    with right:
        chart(
            charts.hours_trend(
                trend,
                x="period_start",
                median="lead_time_to_production_median_hours",
                p90="lead_time_to_production_p90_hours",
                title="Lead time to production (opened → actual end)",
            ),
            key="lt_trend_ltp",
        )

subtype = f.dims.get("change_type") or "all"
states_disabled = dimension_filters_reason(
    f,
    what="Time in each state is published per change type only (rpt_state_durations), all time.",
    honoured=("change_type",),
)
states = pl.DataFrame() if states_disabled else data.state_durations(record_type="change")
if not section(
    "Time in each state",
    disabled=states_disabled,
    help="rpt_state_durations: finished stays in each state, from the state history (all time).",
):
    pass
elif states.is_empty():
    empty_state(
        "No state history in the exports, so there is no time in each state to show.",
        "Time per state needs each change's state transitions: a ServiceNow audit-style export (one row "
        "per update of a record, with sys_mod_count) or Jira issues fetched with expand=changelog. The "
        "exports loaded carry only each record's current state and its milestone timestamps (opened, "
        "approved, started, ended, closed), which the distributions above use.",
    )
elif (shown := states.filter(pl.col("record_subtype") == subtype)).is_empty():
    empty_state(f"No state history for {subtype} changes.")
else:
    st.caption(
        f"{'All changes' if subtype == 'all' else f'{subtype.capitalize()} changes'} with state history, all time "
        "(the period does not apply). Median and p90 hours per stay; a stay still open is not counted."
    )
    chart(
        charts.count_bars(
            labelled(shown.sort("median_hours", descending=True), "state"),
            category="state",
            values={"median_hours": "Median hours", "p90_hours": "p90 hours"},
            title="Time in each state (hours per stay)",
            x_title="hours",
        ),
        key="lt_states",
    )
    drilldown(
        states,
        title="Time in each state by change type (published)",
        key="lt_state_rows",
        filename="state_durations",
    )

drilldown(
    data.changes(
        start=f.period_start, end=f.period_end, event="closed", subset="completed", filters=rf
    ).select(
        "number",
        "title",
        "change_type",
        "assignment_group",
        "opened_at",
        "approved_at",
        "actual_start_at",
        "actual_end_at",
        "closed_at",
        *data.DURATION_COLUMNS,
        "change_id",
    ),
    title=f"Completed changes closed in {f.label} with their durations",
    key="lt_records",
    filename=f"lead_times_{f.period_start}",
    caption="Empty durations are missing or negative inputs (excluded from the statistics, counted in data quality).",
)
