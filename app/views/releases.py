"""Releases: release calendar, release lead time, release-caused incidents and release failure rate.

Everything comes from fct_releases (one row per release), counted by the query layer (data.py). The
release failure rate is not published as a column: the tiles show its numerator (is_failed) and
denominator (is_deployed) as counted rows, "x of y releases", and the page never divides them.
"""

from __future__ import annotations

import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import (
    Tile,
    chart,
    described,
    drilldown,
    empty_state,
    low_confidence_reason,
    metric_tile,
    metrics,
    record_scope,
)

STATUS_COLOURS = {
    "failed": charts.COLOURS["bad"],
    "deployed": charts.COLOURS["good"],
    "not deployed (planned end)": charts.COLOURS["light"],
}


def failure_tile(scope: str, qualifier: str = "") -> Tile:
    """'x of y' releases: x = is_failed, y = is_deployed (fct_releases' numerator and denominator)."""
    return Tile(
        "release_failure_rate",
        text=lambda r: f"{r['is_failed']:,} of {r['is_deployed']:,}" if r["is_deployed"] else "no releases",
        evidence=lambda r: f"{r['is_failed']:,} failed of {r['is_deployed']:,} deployed releases ({scope})",
        qualifier=qualifier,
    )


f = filters.current()
st.title("Releases")
rf = f.record_filters()
st.caption(
    "Releases from fct_releases (ServiceNow rm_release, Jira versions). Deployment time is the release date, "
    "else the last actual end of its member changes. "
    + (
        f"Filtered ({described(f)}): the releases with at least one member change the filters select; "
        "release-caused incidents by their cause change."
        if rf
        else "All releases."
    )
)

releases = data.releases(member_filters=rf)
if releases.is_empty():
    if rf:
        empty_state(f"No release has a member change with these filters ({described(f)}).", "Clear a filter.")
    else:
        empty_state("No releases in the exports.", "Deliver rm_release (ServiceNow) or Jira versions.")
    st.stop()

dq = data.metric_confidence()

# --- headline tiles ------------------------------------------------------------------------------------
in_period = (
    data.release_totals(start=f.period_start, end=f.period_end, member_filters=rf) if f.period_start else None
)
all_time = data.release_totals(member_filters=rf)
no_period = {"is_failed": 0, "is_deployed": 0, "member_change_count": 0, "caused_incident_count": 0}
HEADLINE = (
    (failure_tile(f"deployed in {f.label}"), in_period or no_period),
    (failure_tile("all time", qualifier="all time"), all_time),
    (
        Tile(
            "releases_deployed",
            evidence=lambda r: f"in {f.label} · {r['member_change_count']:,} member changes",
        ),
        in_period or no_period,
    ),
    (
        Tile(
            "release_caused_incidents",
            evidence=lambda r: (
                f"{r['caused_p1_p3_count']:,} of them P1-P3 · by releases deployed in {f.label}"
            ),
        ),
        in_period or {**no_period, "caused_p1_p3_count": 0},
    ),
)
definitions = metrics()
# a tile of the period opens its records (the all-time tile is qualified: no button), filtered as it counts
scope = record_scope(f) if in_period is not None else None
for place, (tile, row) in zip(st.columns(len(HEADLINE), gap="small"), HEADLINE, strict=True):
    with place:
        metric_tile(tile, row, None, dq, definitions, scope=scope)

# --- calendar ---------------------------------------------------------------------------------------------
st.subheader("Release calendar", help="One point per release, on its deployment time (else its planned end).")
calendar = data.release_calendar(member_filters=rf)
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
    lead_all = data.release_lead_times(member_filters=rf)
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
    causing = data.releases_causing_incidents(limit=12, member_filters=rf)
    if causing.is_empty():
        empty_state("No incident is attributed to a release.")
    else:
        chart(
            charts.count_bars(
                causing,
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
    data.releases(failed_only=True, member_filters=rf),
    title="Failed releases",
    key="rel_failed",
    filename="failed_releases",
    empty_message="No deployed release failed.",
)

# --- incidents of the period ----------------------------------------------------------------------------
if f.period_start is not None:
    caused = data.incidents(
        start=f.period_start,
        end=f.period_end,
        service=f.dims.get("service"),
        cause_filters={c: v for c, v in rf.items() if c != "service_name"},
    ).where("is_release_caused")
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
