"""Data quality: coverage per source and field (rpt_data_quality), the metrics shown as low-confidence
and why, quarantined rows (rpt_quarantine) and the last ingest runs (rpt_ingest_runs)."""

from __future__ import annotations

import polars as pl
import streamlit as st
from changeboard.app import charts, data
from changeboard.app.components import chart, drilldown, empty_state, kpi_tile, labelled, table

st.title("Data quality")
st.caption(
    "How complete the inputs are. A metric whose weakest input covers less than the threshold is marked "
    "low-confidence on its KPI tile. All figures are for the whole warehouse (the sidebar filters do not apply)."
)

coverage = data.data_quality(check_type="coverage")
confidence = data.metric_confidence()
low = confidence.filter(pl.col("is_low_confidence")) if not confidence.is_empty() else confidence
n_quarantined = data.quarantine_count()
runs = data.ingest_runs(limit=50)
c = st.columns(4)
with c[0]:
    low_fields = coverage.filter(pl.col("is_low_confidence")) if not coverage.is_empty() else coverage
    kpi_tile(
        "Fields below threshold",
        low_fields.height,
        kind="count",
        evidence=f"of {coverage.height:,} coverage checks (per source)",
    )
with c[1]:
    kpi_tile(
        "Low-confidence metrics",
        low.height,
        kind="count",
        evidence=f"of {confidence.height:,} metrics checked",
    )
with c[2]:
    kpi_tile("Quarantined rows", n_quarantined, kind="count", evidence="latest ingest of each file")
with c[3]:
    if runs.is_empty():
        kpi_tile("Last ingest", None, kind="text", evidence="no ingest runs recorded")
    else:
        last = runs.filter(pl.col("pipeline_run_id") == runs["pipeline_run_id"][0])
        failed_runs = last.filter(pl.col("status") != "succeeded").height
        kpi_tile(
            "Last ingest",
            f"{runs['started_at'][0]:%d %b %H:%M}",
            kind="text",
            evidence=f"{last.height:,} files · {failed_runs:,} not succeeded",
            help=f"Pipeline run {runs['pipeline_run_id'][0]} (UTC).",
        )

st.subheader(
    "Coverage per source and field",
    help="Share of the records checked that carry the field (rpt_data_quality, check_type coverage).",
)
if coverage.is_empty():
    empty_state("No coverage checks published.")
else:
    informational = coverage.filter(pl.col("threshold").is_null())
    cells = coverage.filter(pl.col("threshold").is_not_null()).with_columns(
        pl.when(pl.col("coverage").is_null())
        .then(pl.lit("nothing to check"))
        .otherwise(
            pl.format(
                "{} %  ({}/{})",
                (pl.col("coverage") * 100).round(1),
                pl.col("numerator"),
                pl.col("denominator"),
            )
        )
        .alias("label"),
        pl.col("metric").alias("field"),
    )
    cells = labelled(cells, "field")
    threshold = coverage["threshold"].drop_nulls()
    chart(
        charts.heat_table(
            cells,
            row="field",
            column="source_system",
            value="coverage",
            text="label",
            threshold=float(threshold[0]) if threshold.len() else None,
            title="Coverage per field (rows) and source system (columns; all = every source)",
        ),
        key="dq_heat",
    )
    if informational.height:
        st.caption(
            "Informational, no threshold (not in the heat table): "
            + "; ".join(informational.filter(pl.col("source_system") == "all")["reason"].to_list())
            + "."
        )
    drilldown(
        coverage.select(
            "source_system",
            "entity",
            "metric",
            "numerator",
            "denominator",
            "coverage",
            "threshold",
            "is_low_confidence",
            "reason",
        ),
        title="Coverage checks",
        key="dq_coverage",
        filename="coverage",
    )

st.subheader("Low-confidence metrics", help="rpt_data_quality, check_type metric_confidence.")
if confidence.is_empty():
    empty_state("No metric-confidence checks published.")
elif low.is_empty():
    st.success(
        f"Every one of the {confidence.height} metrics checked has inputs above the threshold.",
        icon=":material/verified:",
    )
else:
    table(
        low.select("metric", "weakest_input", "coverage", "reason"),
        key="dq_low_table",
        column_config={
            "coverage": st.column_config.NumberColumn(format="percent"),
            "reason": st.column_config.TextColumn(width="large"),
        },
    )
if not confidence.is_empty():
    drilldown(
        confidence,
        title="Every metric with its weakest input",
        key="dq_confidence",
        filename="metric_confidence",
    )

other = pl.concat(
    [data.data_quality(check_type=t) for t in ("negative_duration", "cmdb_alignment", "quarantine")],
    how="diagonal_relaxed",
)
drilldown(
    other,
    title="Other checks: negative durations, CMDB alignment, rows loaded",
    key="dq_other",
    filename="data_quality_checks",
)

st.subheader("Quarantined rows", help="Rows the loader could not use, from the latest ingest of each file.")
quarantined = data.quarantine(limit=500)
if quarantined.is_empty():
    empty_state("No quarantined rows: every row of the latest ingest of each file was loaded.")
else:
    drilldown(
        quarantined,
        title="Quarantined rows (file, row, reason)",
        key="dq_quarantine",
        filename="quarantine",
        expanded=True,
        caption="The newest 500; source_row is the row number in the delivered file.",
    )

st.subheader("Last ingest runs", help="One row per loader run over one delivered file (rpt_ingest_runs).")
runs = data.ingest_runs(limit=50)
if runs.is_empty():
    empty_state("No ingest runs recorded.")
else:
    table(
        runs.select(
            "started_at",
            "source_system",
            "file_name",
            "status",
            "rows_read",
            "inserted",
            "updated",
            "unchanged",
            "superseded",
            "quarantined",
            "duration_seconds",
            "error",
        ),
        key="dq_runs_table",
        column_config={"duration_seconds": st.column_config.NumberColumn(format="%.1f")},
    )
    drilldown(runs, title="Last ingest runs, every column", key="dq_runs", filename="ingest_runs")

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
