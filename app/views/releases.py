"""Releases: release calendar, release lead time, release-caused incidents and release failure rate."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app import charts, data, filters
from app.components import chart, drilldown, empty_state, missing_report, scope_note

f = filters.current()
st.title("Releases")
scope_note(f.describe(), [], kpi_scope="")

releases = data.model_rows("fct_releases")
if releases.is_empty() and not data.has_model("fct_releases"):
    missing_report(
        "fct_releases", "Release calendar, release lead time and release failure rate come from it."
    )
elif releases.is_empty():
    empty_state("No releases in the exports.")
else:
    drilldown(releases, title="Releases", key="rel_rows", filename="releases", expanded=True)

st.subheader("Changes that belong to a release")
members = data.release_changes(filters=f.record_filters())
if members.is_empty():
    empty_state("No change belongs to a release.")
else:
    chart(
        charts.calendar_scatter(
            members.filter(
                pl.col("actual_end_at").is_not_null() | pl.col("planned_start_at").is_not_null()
            ).with_columns(pl.coalesce("actual_end_at", "planned_start_at").alias("when")),
            x="when",
            y="release_id",
            colour="outcome",
            text="number",
            colours=dict(charts.OUTCOME_COLOURS.items()),
            title="Member changes by release (actual end, else planned start), coloured by outcome",
        ),
        key="rel_members",
    )
    drilldown(members, title="Release member changes", key="rel_members_rows", filename="release_changes")

if f.period_start is not None:
    caused = data.incidents(start=f.period_start, end=f.period_end, service=f.dims.get("service"))
    caused = caused.filter(pl.col("is_release_caused"))
    st.subheader(f"Release-caused incidents ({f.label})")
    if caused.is_empty():
        empty_state(f"No release-caused incidents opened in {f.label}.")
    else:
        drilldown(
            caused.select(
                "number",
                "priority",
                "title",
                "primary_cause_release_id",
                "cause_change",
                "evidence",
                "opened_at",
            ),
            title="Release-caused incidents",
            key="rel_incidents",
            filename=f"release_caused_incidents_{f.period_start}",
            expanded=True,
        )
