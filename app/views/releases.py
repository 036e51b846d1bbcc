"""Releases: release calendar, release lead time, release-caused incidents and release failure rate.

Everything comes from fct_releases (one row per release). The release failure rate is not published
as a column: the page shows its numerator (is_failed) and denominator (is_deployed) as counted rows,
"x of y releases", and never divides them itself.
"""

from __future__ import annotations

import polars as pl
import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import (
    chart,
    drilldown,
    empty_state,
    kpi_tile,
    low_confidence_reason,
    missing_report,
)

RELEASE_COLUMNS = (
    "number",
    "name",
    "release_type",
    "state",
    "deployed_at",
    "released_at",
    "planned_start_at",
    "planned_end_at",
    "first_member_opened_at",
    "release_lead_time_hours",
    "member_change_count",
    "completed_member_change_count",
    "failed_member_change_count",
    "caused_incident_count",
    "caused_p1_count",
    "caused_p2_count",
    "caused_p3_count",
    "caused_p1_p3_count",
    "is_deployed",
    "has_failed_member_change",
    "is_failed",
    "source_system",
    "release_id",
)
STATUS_COLOURS = {
    "failed": charts.COLOURS["bad"],
    "deployed": charts.COLOURS["good"],
    "not deployed (planned end)": charts.COLOURS["light"],
}


def releases_of(df: pl.DataFrame, start: object, end: object) -> pl.DataFrame:
    """Releases deployed in [start, end)."""
    return df.filter(
        pl.col("deployed_at").is_not_null()
        & (pl.col("deployed_at") >= pl.lit(start).cast(pl.Datetime("us")))
        & (pl.col("deployed_at") < pl.lit(end).cast(pl.Datetime("us")))
    )


def failure_tile(label: str, rows: pl.DataFrame, *, scope: str, low_confidence: str | None) -> None:
    """'x of y releases' from the rows: x = is_failed, y = is_deployed (fct_releases' numerator and
    denominator of the release failure rate)."""
    failed = rows.filter(pl.col("is_failed")).height
    deployed = rows.filter(pl.col("is_deployed")).height
    kpi_tile(
        label,
        f"{failed:,} of {deployed:,}" if deployed else "no releases",
        kind="text",
        evidence=f"{failed:,} failed of {deployed:,} deployed releases ({scope})",
        help="Failed: deployed with a failed member change or at least one release-caused P1-P3 incident "
        "(fct_releases.is_failed). Deployed: the release has a deployment time (is_deployed).",
        low_confidence=low_confidence,
    )


f = filters.current()
st.title("Releases")
st.caption(
    "Releases from fct_releases (ServiceNow rm_release, Jira versions). Deployment time is the release date, "
    "else the last actual end of its member changes. The service / group / type filters apply to the "
    "member-change list only."
)

releases = data.releases()
if releases.is_empty():
    if not data.has_model("fct_releases"):
        missing_report(
            "fct_releases", "Release calendar, release lead time and release failure rate come from it."
        )
    else:
        empty_state("No releases in the exports.", "Deliver rm_release (ServiceNow) or Jira versions.")
    st.stop()

releases = releases.select([c for c in RELEASE_COLUMNS if c in releases.columns])
dq = data.metric_confidence()
deployed = releases.filter(pl.col("is_deployed"))

# --- headline tiles ------------------------------------------------------------------------------------
in_period = releases_of(releases, f.period_start, f.period_end) if f.period_start else releases.clear()
c = st.columns(4)
with c[0]:
    failure_tile(
        "Failed releases",
        in_period,
        scope=f"deployed in {f.label}",
        low_confidence=low_confidence_reason(dq, "release_failure_rate"),
    )
with c[1]:
    failure_tile(
        "Failed releases, all time",
        releases,
        scope="all time",
        low_confidence=low_confidence_reason(dq, "release_failure_rate"),
    )
with c[2]:
    kpi_tile(
        "Releases deployed",
        in_period.height,
        kind="count",
        evidence=f"in {f.label} · {int(in_period['member_change_count'].sum()):,} member changes",
        help="Releases whose deployment time falls in the period (rows of fct_releases).",
    )
with c[3]:
    p1_p3 = int(
        in_period.select(
            pl.sum_horizontal("caused_p1_count", "caused_p2_count", "caused_p3_count").sum()
        ).item()
        or 0
    )
    kpi_tile(
        "Incidents caused",
        int(in_period["caused_incident_count"].sum()),
        kind="count",
        evidence=f"{p1_p3:,} of them P1-P3 · by releases deployed in {f.label}",
        help="Sum of fct_releases.caused_incident_count (incidents whose primary cause is the release) "
        "over the releases deployed in the period.",
    )

# --- calendar ---------------------------------------------------------------------------------------------
st.subheader("Release calendar", help="One point per release, on its deployment time (else its planned end).")
calendar = (
    releases.with_columns(
        pl.coalesce("deployed_at", "planned_end_at").alias("when"),
        pl.when(pl.col("is_failed"))
        .then(pl.lit("failed"))
        .when(pl.col("is_deployed"))
        .then(pl.lit("deployed"))
        .otherwise(pl.lit("not deployed (planned end)"))
        .alias("status"),
        pl.format("{} · {}", pl.col("number"), pl.col("name").fill_null("")).alias("label"),
        pl.col("release_type").fill_null("(no type)"),
    )
    .filter(pl.col("when").is_not_null())
    .sort("status")
)
if calendar.is_empty():
    empty_state("No release has a deployment time or a planned end.")
else:
    chart(
        charts.calendar_scatter(
            calendar,
            x="when",
            y="release_type",
            colour="status",
            text="label",
            colours=STATUS_COLOURS,
            title="Releases by deployment time and type (red: failed)",
        ),
        key="rel_calendar",
    )

left, right = st.columns(2)
with left:
    lead_all = deployed.filter(pl.col("release_lead_time_hours").is_not_null()).with_columns(
        pl.col("release_type").fill_null("(no type)")
    )
    if lead_all.is_empty():
        empty_state("No deployed release has a usable lead time.")
    else:
        chart(
            charts.distribution(
                lead_all,
                value="release_lead_time_hours",
                group="release_type",
                title="Release lead time by type (all deployed releases)",
                log=False,
            ),
            key="rel_lead",
        )
    reason = low_confidence_reason(dq, "release_lead_time")
    if reason:
        st.warning(f"Release lead time is low-confidence: {reason}", icon=":material/warning:")
with right:
    causing = releases.filter(pl.col("caused_incident_count") > 0).sort(
        "caused_incident_count", descending=True
    )
    if causing.is_empty():
        empty_state("No incident is attributed to a release.")
    else:
        top = causing.head(12).with_columns(
            pl.format(
                "{} · {}", pl.col("number"), pl.col("name").fill_null("").str.replace(r" release$", "")
            ).alias("label"),
            (pl.col("caused_incident_count") - pl.col("caused_p1_p3_count")).alias("lower_priority"),
        )
        chart(
            charts.count_bars(
                top,
                category="label",
                values={
                    "caused_p1_count": "P1",
                    "caused_p2_count": "P2",
                    "caused_p3_count": "P3",
                    "lower_priority": "P4-P5",
                },
                stacked=True,
                title="Release-caused incidents by priority (12 releases with most)",
            ),
            key="rel_caused",
        )

drilldown(
    releases,
    title="Releases",
    key="rel_rows",
    filename="releases",
    caption="is_failed / is_deployed are the numerator / denominator of the release failure rate.",
)
drilldown(
    deployed.filter(pl.col("is_failed")),
    title="Failed releases",
    key="rel_failed",
    filename="failed_releases",
    empty_message="No deployed release failed.",
)

# --- incidents of the period ----------------------------------------------------------------------------
if f.period_start is not None:
    caused = data.incidents(start=f.period_start, end=f.period_end, service=f.dims.get("service")).where(
        "is_release_caused"
    )
    st.subheader(f"Release-caused incidents opened in {f.label}")
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
                "time_to_restore_hours",
            ),
            title="Release-caused incidents",
            key="rel_incidents",
            filename=f"release_caused_incidents_{f.period_start}",
            expanded=True,
        )

st.subheader("Changes that belong to a release")
members = data.release_changes(filters=f.record_filters())
drilldown(
    members,
    title="Release member changes",
    key="rel_members_rows",
    filename="release_changes",
    empty_message="No change belongs to a release (with these filters).",
)
