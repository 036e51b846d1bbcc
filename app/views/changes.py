"""Changes: outcome mix over time, success rate by type / risk / service / group, where the failure
definitions disagree, schedule adherence and unauthorized changes."""

from __future__ import annotations

import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import (
    Tile,
    chart,
    clickable_chart,
    described,
    drilldown,
    empty_state,
    failed_reconciliation,
    incident_fail_reconciliation,
    labelled,
    labels,
    metrics,
    open_category,
    published_kpis,
    record_scope,
    scope_note,
    section,
    tile_row,
)

# success with and without issues (declared in dbt: rpt_metric_definitions)
SUCCESS = (Tile("change_success_rate"), Tile("clean_success_rate"))
# the three failure definitions side by side (declared in dbt: rpt_metric_definitions)
FAILURE_DEFINITIONS = (
    Tile("failed_rate", reconcile=failed_reconciliation),
    Tile("unsuccessful_rate"),
    Tile("incident_fail_rate", reconcile=incident_fail_reconciliation),
)
# the breakdowns: (cell column, label, bars drawn)
BREAKDOWNS = (
    ("change_type", "change type", None),
    ("risk", "risk", None),
    ("service_name", "service", 15),
    ("assignment_group", "assignment group", 15),
)

f = filters.current()
st.title("Changes")
if f.period_start is None:
    empty_state("No changes in the warehouse yet.", "Ingest exports and run `changeboard build`.")
    st.stop()

kpis = published_kpis(f)
scope_note(described(f), [], kpi_scope="")
rf = f.record_filters()
dq = data.metric_confidence()

# --- outcome mix -------------------------------------------------------------------------------------
st.subheader(
    "Outcome mix",
    help="Completed changes by the day they closed, summed from the published outcome counts "
    "(rpt_change_outcome_cells): every sidebar filter applies.",
)
mix = data.outcome_counts(grain=f.grain, by="period_start", start=f.trend_start, end=f.period_end, filters=rf)
if mix.is_empty():
    empty_state(f"No completed changes in these {f.grain}s for {described(f)}.")
else:
    chart(
        charts.outcome_mix(
            mix.rename({"dimension_value": "period_start"}),
            x="period_start",
            title=f"Completed changes by outcome per {f.grain}",
            names=labels().values,
        ),
        key="ch_mix",
    )
completed = data.changes(
    start=f.period_start, end=f.period_end, event="closed", subset="completed", filters=rf
)
drilldown(
    completed,
    title=f"Completed changes closed in {f.label}",
    key="ch_completed",
    filename=f"completed_changes_{f.period_start}",
)

# --- success rate by dimension ----------------------------------------------------------------------------
st.subheader(
    f"Change success rate by type, risk, service and group ({f.label})",
    help="Summed from the published outcome counts (rpt_change_outcome_cells, which add up to rpt_change_kpis).",
)
st.caption(
    f"Every sidebar filter applies ({described(f)}): a filtered dimension shows its one value, the others "
    "break the filtered changes down."
)
cols = st.columns(2)
for i, (dim, label, top) in enumerate(BREAKDOWNS):
    rows = data.outcome_counts(grain=f.grain, by=dim, start=f.period_start, end=f.period_end, filters=rf)
    shown = rows.head(top) if top else rows
    with cols[i % 2]:
        if rows.is_empty():
            empty_state(f"No completed changes by {label} in {f.label} for these filters.")
            continue
        # a click on a bar opens that value's completed changes and its successful ones
        clickable_chart(
            charts.rate_by_category(
                labelled(shown, "dimension_value"),
                category="dimension_value",
                rate="change_success_rate",
                numerator="change_success_numerator",
                denominator="completed_count",
                title=f"By {label}"
                + (f" ({top} busiest of {rows.height:,})" if top and rows.height > top else ""),
                target=metrics()["change_success_rate"].target_value,
            ),
            key=f"ch_by_{dim}",
            on_click=open_category("change_success_rate", dim, rows["dimension_value"].to_list(), f),
        )
        drilldown(
            rows.select(
                "dimension_value",
                "completed_count",
                "change_success_numerator",
                "change_success_rate",
                "unsuccessful_count",
                "failed_count",
                "failed_rate",
            ),
            title=f"Rates by {label}",
            key=f"ch_by_{dim}_rows",
            filename=f"success_rate_by_{dim}_{f.period_start}",
        )

# --- success, then the failure definitions side by side ----------------------------------------------------
cur = kpis.current


def published_tiles(tiles: tuple[Tile, ...]) -> None:
    """The tiles of the period's published row, against the period before, each opening its records."""
    tile_row(
        tiles,
        cur,
        previous=kpis.previous,
        dq=dq,
        trend=kpis.trend,
        previous_label=kpis.previous_label,
        scope=record_scope(f),
    )


if (
    section(
        "Success, with and without issues",
        disabled=kpis.disabled,
        help="Each tile's (?) gives its definition; Records lists the changes behind it.",
    )
    and cur is not None
):
    published_tiles(SUCCESS)
if (
    section(
        "The three failure rates",
        disabled=kpis.disabled,
        help="ITIL counts unsuccessful outcomes; the incident-based rate counts changes that caused a P1-P3 incident, "
        "by the day they were deployed; the failed-change rate counts either, by the day they closed.",
    )
    and cur is not None
):
    published_tiles(FAILURE_DEFINITIONS)
st.subheader(
    "Where the failure definitions disagree",
    help="Completed changes closed in the period; every sidebar filter applies.",
)
disagree = data.changes(
    start=f.period_start, end=f.period_end, event="closed", subset="disagreement", filters=rf
)
if disagree.is_empty():
    empty_state(f"The failure definitions agree on every change closed in {f.label}.")
else:
    st.caption(
        "Completed changes closed in the period that one definition calls failed and the other does not: "
        "unsuccessful without a caused incident, or successful but followed by a P1-P3 incident they caused."
    )
    drilldown(
        disagree.select(
            "number",
            "title",
            "outcome",
            "is_backed_out",
            "is_failed_itil",
            "is_failed_incident",
            "caused_p1_count",
            "caused_p2_count",
            "caused_p3_count",
            "service_name",
            "assignment_group",
            "closed_at",
            "change_id",
        ),
        title="Disagreement list",
        key="ch_disagree",
        filename=f"failure_disagreements_{f.period_start}",
        expanded=True,
    )

# --- schedule adherence --------------------------------------------------------------------------------
st.subheader(
    "Schedule adherence", help="Planned vs actual windows of completed changes closed in the period."
)
left, right = st.columns([1, 3])
with left:
    if kpis.disabled:
        tile_row(
            (Tile("outside_window_ratio"),),
            None,
            unavailable={
                "outside_window_ratio": "published one filter at a time; the histogram applies every filter."
            },
        )
    elif cur is not None:
        # Records: the changes outside their window, of those with both windows
        published_tiles((Tile("outside_window_ratio"),))
with right:
    variance = completed.where("start_variance_minutes is not null").select("start_variance_minutes").frame()
    if variance.is_empty():
        empty_state(f"No completed change in {f.label} has both a planned and an actual start.")
    else:
        chart(
            charts.histogram(
                variance,
                value="start_variance_minutes",
                title="Actual start − planned start (minutes; negative = started early)",
                x_title="minutes",
            ),
            key="ch_variance",
        )
drilldown(
    data.changes(
        start=f.period_start, end=f.period_end, event="closed", subset="outside_window", filters=rf
    ).select(
        "number",
        "title",
        "planned_start_at",
        "actual_start_at",
        "start_variance_minutes",
        "planned_end_at",
        "actual_end_at",
        "end_variance_minutes",
        "service_name",
        "assignment_group",
        "change_id",
    ),
    title="Changes outside their planned window",
    key="ch_outside",
    filename=f"outside_window_{f.period_start}",
)

# --- unauthorized --------------------------------------------------------------------------------------------
st.subheader(
    "Unauthorized changes", help="Completed changes closed in the period, with the reason they count."
)
unauth = data.changes(
    start=f.period_start, end=f.period_end, event="closed", subset="unauthorized", filters=rf
)
if unauth.is_empty():
    empty_state(f"No unauthorized changes closed in {f.label}.")
else:
    drilldown(
        unauth.select(
            "number",
            "title",
            "unauthorized_reason",
            "change_type",
            "approved_at",
            "actual_start_at",
            "service_name",
            "assignment_group",
            "change_id",
        ).sort("unauthorized_reason, closed_at desc nulls last, number"),
        title="Unauthorized changes with their reason",
        key="ch_unauth",
        filename=f"unauthorized_{f.period_start}",
        expanded=True,
    )
