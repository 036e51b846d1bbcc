"""Backlog & schedule: open changes by age and state, overdue changes, the forward schedule as a
timeline with collisions and blackout windows."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app import charts, data, filters
from app.components import chart, drilldown, empty_state, missing_report, scope_note

f = filters.current()
st.title("Backlog & schedule")
scope_note(f.describe().split(" · ", 1)[-1] if f.dims else "All open changes", [], kpi_scope="")

st.subheader("Backlog by age and state")
backlog = data.model_rows("rpt_backlog")
if not data.has_model("rpt_backlog"):
    missing_report(
        "rpt_backlog",
        "Open changes by age bucket and state, backlog growth and overdue changes come from it.",
    )
elif backlog.is_empty():
    empty_state("No open changes.")
else:
    drilldown(backlog, title="Backlog (published)", key="bl_rows", filename="backlog", expanded=True)

st.subheader("Forward schedule")
open_changes = data.open_changes(filters=f.record_filters())
scheduled = open_changes.filter(
    pl.col("planned_start_at").is_not_null() & pl.col("planned_end_at").is_not_null()
)
if scheduled.is_empty():
    empty_state("No open change has a planned window.")
else:
    flagged = scheduled.with_columns(
        pl.when(pl.col("in_blackout"))
        .then(pl.lit("in a blackout window"))
        .otherwise(pl.lit("scheduled"))
        .alias("flag"),
        pl.format("{} · {}", pl.col("number"), pl.col("primary_ci_name").fill_null("no CI")).alias("row"),
    )
    chart(
        charts.timeline(
            flagged,
            start="planned_start_at",
            end="planned_end_at",
            row="row",
            colour="flag",
            hover=["number", "title", "risk", "state"],
            colours={"in a blackout window": charts.COLOURS["bad"], "scheduled": charts.COLOURS["primary"]},
            title="Planned windows of open changes",
        ),
        key="bl_timeline",
    )
drilldown(open_changes, title="Open and in-progress changes", key="bl_open", filename="open_changes")

st.subheader("Collisions")
collisions = data.model_rows("fct_change_collisions")
if not data.has_model("fct_change_collisions"):
    missing_report(
        "fct_change_collisions",
        "Pairs of scheduled changes on the same or related CIs with overlapping windows.",
    )
elif collisions.is_empty():
    empty_state("No collisions in the forward schedule.")
else:
    drilldown(collisions, title="Collisions", key="bl_collisions", filename="collisions", expanded=True)
