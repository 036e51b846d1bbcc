"""Data quality: coverage per source and field, quarantined rows, the last ingest runs."""

from __future__ import annotations

import streamlit as st

from app import data
from app.components import drilldown, empty_state, missing_report

st.title("Data quality")
st.caption(
    "How complete the inputs are: a metric whose inputs fall below the coverage threshold is marked low-confidence."
)

dq = data.model_rows("rpt_data_quality")
if not data.has_model("rpt_data_quality"):
    missing_report(
        "rpt_data_quality",
        "Coverage per source and field, quarantined rows and the last ingest runs come from it.",
    )
elif dq.is_empty():
    empty_state("The data-quality scorecard is empty.")
else:
    drilldown(dq, title="Data-quality scorecard", key="dq_rows", filename="data_quality", expanded=True)

st.subheader("Records with negative durations")
neg = data.changes(subset="negative_duration")
if neg.is_empty():
    empty_state("No change has an end before its start.")
else:
    drilldown(
        neg.select(
            "number",
            "title",
            "opened_at",
            "approved_at",
            "actual_start_at",
            "actual_end_at",
            "closed_at",
            "source_system",
            "change_id",
        ),
        title="Changes with a negative duration (excluded from the statistics)",
        key="dq_negative",
        filename="negative_durations",
    )
