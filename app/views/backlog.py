"""Backlog & schedule: open changes by age at each period end (rpt_backlog), overdue changes, and the
forward schedule as a timeline with collisions (fct_change_collisions) and blackout windows
(dim_change_windows). The timeline covers the forward window only (the build's "now" plus the
published forward_schedule_days); overdue changes whose planned window has passed are listed apart."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import (
    Tile,
    as_text,
    chart,
    clickable_chart,
    described,
    drilldown,
    empty_state,
    metrics,
    period_scope,
    record_scope,
    records_dialog,
    section,
    tile_row,
)

AGE_BUCKETS = {
    "open_0_1_days_count": "0-1 days",
    "open_2_5_days_count": "2-5 days",
    "open_6_30_days_count": "6-30 days",
    "open_31_90_days_count": "31-90 days",
    "open_over_90_days_count": "> 90 days",
}
AGE_COLOURS = ["#afb8c1", "#54aeff", "#1f6feb", "#bf8700", "#cf222e"]
# The flag of a forward-schedule row in the list under the schedule, over data.forward_schedule's columns.
FLAG_SQL = (
    "case when has_collision then 'collides with another change' "
    "when coalesce(in_blackout, false) then 'in a blackout window' else 'scheduled' end as flag"
)
# The schedule draws the earliest planned starts (time order), SCHEDULE_ROWS by default, at most
# SCHEDULE_MAX_ROWS with "show all"; the list under it holds every change in the window.
SCHEDULE_ROWS = 40
SCHEDULE_MAX_ROWS = 500
SCHEDULE_GROUPS = {"Service": "service_name", "Configuration item": "primary_ci_name"}
SCHEDULE_HOVER = (
    ("number", "Change"),
    ("title", "Title"),
    ("planned_start", "Planned start"),
    ("planned_end", "Planned end"),
    ("risk_indicator", "Risk indicator"),
    ("state", "State"),
    ("service_name", "Service"),
    ("primary_ci_name", "CI"),
    ("collides_with", "Collides with"),
    ("blackout", "In a blackout window"),
)


f = filters.current()
st.title("Backlog & schedule")
rf = f.record_filters()
now = data.as_of()
forward_days = data.attribution_setting("forward_schedule_days")
st.caption(
    f"Ages and schedules are measured at the build's “now”: {as_text(now)}. "
    + (
        f"Every filter applies to the backlog, the change lists and the schedule ({described(f)})."
        if f.dims
        else "All changes."
    )
)

# --- backlog by age ----------------------------------------------------------------------------------
section(
    "Backlog by age",
    help="rpt_backlog: changes open at each period end (the current period: now), by whole days since opened; "
    "with filters, the sum of rpt_backlog_cells the filters select.",
)
trend = (
    data.backlog(grain=f.grain, start=f.trend_start, end=f.period_end, filters=rf) if f.period_start else None
)
cur = None
if trend is not None and not trend.is_empty():
    match = trend.filter(pl.col("period_start") == f.period_start)
    cur = match.row(0, named=True) if match.height else None
if cur is None:
    empty_state(f"No backlog published for {f.label}.", "Pick another period.")
else:
    at_end = "now" if cur["is_current_period"] else f"at {as_text(cur['period_end_at'])}"
    tile_row(
        (
            Tile("open_changes", evidence=lambda r: f"{f.label}: open {at_end}"),
            Tile("overdue_changes"),
            Tile(
                "open_over_90_days",
                evidence=lambda r: f"{r['open_31_90_days_count']:,} more are 31-90 days old",
            ),
            Tile(
                "backlog_growth",
                evidence=lambda r: (
                    f"{r['opened_count']:,} opened − {r['closed_count']:,} closed in the period"
                ),
            ),
        ),
        cur,
        trend=trend,
        scope=record_scope(f),  # Records: the changes open at the period's end (fct_backlog_snapshots)
    )
    periods = trend["period_start"].to_list()

    def open_bar(point: dict[str, object]) -> None:
        """A bar opens the changes of its age bucket open at its period's end; the line, the overdue ones."""
        curve, index = point.get("curve_number"), point.get("point_index")
        if not isinstance(curve, int) or not isinstance(index, int) or index >= len(periods):
            return
        buckets = list(AGE_BUCKETS)
        if curve < len(buckets):
            bucket = buckets[curve].removeprefix("open_").removesuffix("_count")
            scope = period_scope(f, periods[index], category=("age_bucket", bucket))
            records_dialog(metrics()["open_changes"], scope)
        elif curve == len(buckets):
            records_dialog(metrics()["overdue_changes"], period_scope(f, periods[index]))

    clickable_chart(
        charts.stacked_bars(
            trend,
            x="period_start",
            series=AGE_BUCKETS,
            colours=AGE_COLOURS,
            line=("overdue_count", "overdue"),
            title=f"Open changes by age at each {f.grain} end (the current {f.grain}: now); click a bar",
        ),
        key="bl_age",
        on_click=open_bar,
    )
    drilldown(
        trend.select(
            "period_start",
            "period_end_at",
            "is_current_period",
            "open_count",
            *AGE_BUCKETS,
            "overdue_count",
            "opened_count",
            "closed_count",
            "backlog_growth",
        ),
        title="Published backlog per period" + (" (the cells of these filters, summed)" if rf else ""),
        key="bl_rows",
        filename=f"backlog_{f.grain}",
    )

# --- overdue ----------------------------------------------------------------------------------------------
st.subheader(
    "Overdue changes",
    help="Open changes whose planned start has passed and that have not started implementing.",
)
if now is None:
    empty_state("The build's “now” is not published, so overdue changes cannot be listed.")
else:
    overdue = data.overdue_changes(now=now, filters=rf)
    if overdue.is_empty():
        empty_state("No overdue changes: every open change with a past planned start is implementing.")
    else:
        drilldown(
            overdue.select(
                "number",
                "title",
                "state",
                "days_overdue",
                "planned_start_at",
                "planned_end_at",
                "change_type",
                "risk",
                "service_name",
                "assignment_group",
                "primary_ci_name",
                "opened_at",
                "change_id",
            ),
            title="Overdue changes (planned start passed, not started)",
            key="bl_overdue",
            filename="overdue_changes",
            expanded=True,
            caption="Listed here rather than on the timeline below, which shows the forward window only.",
        )

# --- forward schedule -------------------------------------------------------------------------------------
st.subheader(
    "Forward schedule",
    help="Open and in-progress changes whose planned window overlaps the forward window.",
)
if now is None:
    empty_state("The build's “now” is not published, so there is no forward window to draw.")
else:
    window_end = now + timedelta(days=forward_days)
    st.caption(
        f"From {as_text(now)} to {as_text(window_end)} ({forward_days:g} days: the published "
        "forward_schedule_days), in time order. As on the CAB page, a bar's colour is the change's published "
        "risk indicator; outlined, hatched bars collide with another change (fct_change_collisions); shaded "
        "spans are blackout windows (dim_change_windows; their scope in the label). Zoom with the slider "
        "under the chart or by dragging across it; hover a bar for the change."
    )
    scheduled = data.forward_schedule(start=now, end=window_end, filters=rf)
    collisions = data.collisions()
    blackouts = data.change_windows(start=now, end=window_end, kind="blackout")
    in_window = scheduled.count()
    if in_window == 0:
        empty_state(f"No open change is planned between {as_text(now)} and {as_text(window_end)}.")
    else:
        group_by = st.radio(
            "Group the schedule by",
            list(SCHEDULE_GROUPS),
            horizontal=True,
            key="bl_group_by",
        )
        limit = SCHEDULE_ROWS
        if in_window > SCHEDULE_ROWS:
            show_all = st.toggle(
                f"Show all {min(in_window, SCHEDULE_MAX_ROWS):,} changes"
                + (
                    f" (the first {SCHEDULE_MAX_ROWS:,} of {in_window:,})"
                    if in_window > SCHEDULE_MAX_ROWS
                    else ""
                ),
                key="bl_show_all",
            )
            limit = SCHEDULE_MAX_ROWS if show_all else SCHEDULE_ROWS
        shown = (
            scheduled.sort("planned_start_at, number")
            .page(0, size=limit)
            .with_columns(
                pl.col("planned_start_at").dt.strftime("%a %d %b %Y %H:%M UTC").alias("planned_start"),
                pl.col("planned_end_at").dt.strftime("%a %d %b %Y %H:%M UTC").alias("planned_end"),
                pl.col("risk_level").fill_null("not published").alias("risk_indicator"),
                pl.when(pl.col("in_blackout").fill_null(False))
                .then(pl.lit("yes"))
                .otherwise(pl.lit("no"))
                .alias("blackout"),
                pl.col("service_name").fill_null("(no service)"),
                pl.col("primary_ci_name").fill_null("(no CI)"),
            )
        )
        if in_window > shown.height:
            st.caption(
                f"The schedule draws the {shown.height:,} earliest of the {in_window:,} changes in the window. "
                "Narrow it with the sidebar's service, group, type or risk; the list below holds them all."
            )
        # one shaded span per blackout period, naming every scope it covers
        bands = (
            []
            if blackouts.is_empty()
            else [
                (r["start_at"], r["end_at"], f"{r['name']} ({', '.join(sorted(set(r['scope'])))})")
                for r in blackouts.group_by("start_at", "end_at", "name", maintain_order=True)
                .agg(pl.col("scope"))
                .iter_rows(named=True)
            ]
        )
        chart(
            charts.schedule(
                shown,
                group=SCHEDULE_GROUPS[group_by],
                hover=SCHEDULE_HOVER,
                bands=bands,
                x_range=(now, window_end),
                title=f"Planned windows of open changes by {group_by.lower()}, next {forward_days:g} days",
            ),
            key="bl_schedule",
        )
        drilldown(
            scheduled.select(
                "number",
                "title",
                FLAG_SQL,
                "collides_with",
                "planned_start_at",
                "planned_end_at",
                "in_blackout",
                "state",
                "risk",
                "risk_level",
                "change_type",
                "service_name",
                "primary_ci_name",
                "assignment_group",
                "change_id",
            ),
            title="Changes in the forward window",
            key="bl_forward",
            filename="forward_schedule",
        )

    st.markdown("**Collisions**")
    if collisions.is_empty():
        empty_state("No collisions: no two open changes on the same or related CIs overlap.")
    else:
        drilldown(
            collisions,
            title="Colliding pairs of open changes",
            key="bl_collisions",
            filename="collisions",
            expanded=True,
            caption="Same CI: both change the CI; related CI: one CMDB relationship apart; same service: "
            "only the business service is shared.",
        )
    drilldown(
        data.change_windows(start=now, end=window_end),
        title="Blackout and maintenance windows in the forward window",
        key="bl_windows",
        filename="change_windows",
        empty_message="No blackout or maintenance window in the forward window.",
    )

st.subheader("All open changes")
open_changes = data.open_changes(filters=rf)
drilldown(
    open_changes,
    title="Open and in-progress changes",
    key="bl_open",
    filename="open_changes",
    empty_message="No open changes.",
)
