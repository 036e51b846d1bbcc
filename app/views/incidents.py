"""Incidents & attribution: incidents caused by changes and releases, each link's evidence sentence and
confidence, explicit vs inferred, outage hours and time to restore; plus exploratory controls."""

from __future__ import annotations

import polars as pl
import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import (
    Tile,
    chart,
    dimension_filters_reason,
    drilldown,
    empty_state,
    fmt,
    incident_fail_reconciliation,
    labelled,
    labels,
    published_kpis,
    record_scope,
    scope_note,
    section,
    table,
    tile_row,
)

BASE_PREFIX = "attribution_base_confidence."
BASE_LABELS = {
    "inferred_same_ci": "same CI",
    "inferred_related_ci_1": "one CMDB relationship away",
    "inferred_related_ci_2": "two relationships away",
    "inferred_same_service": "same service only",
}


f = filters.current()
st.title("Incidents & attribution")
if f.period_start is None:
    empty_state("No changes in the warehouse yet.", "Ingest exports and run `changeboard build`.")
    st.stop()

# the settings this build used (rpt_attribution_settings): the page never assumes a default
attribution = data.settings().filter(pl.col("setting_group") == "attribution")
PUBLISHED_WINDOW_HOURS = data.attribution_setting("attribution_window_hours")
PUBLISHED_THRESHOLD = data.attribution_setting("attribution_confidence_threshold")
dq = data.metric_confidence()

service = f.dims.get("service")
# a change-caused incident's type, risk, group and source are its cause change's
cause_filters = {column: v for column, v in f.record_filters().items() if column != "service_name"}
scope_note(
    f"{f.label} · incidents by the day they opened"
    + (f" · service: {service}" if service else "")
    + (
        " · caused by changes with " + ", ".join(f.chosen_in_words(labels().values, exclude=("service",)))
        if cause_filters
        else ""
    ),
    [],
    kpi_scope="",
)

kpis = published_kpis(f)
if section(
    "Incidents caused by changes: the published figures",
    disabled=kpis.disabled,
    help="rpt_change_kpis: incidents by the day they opened, broken down by their cause change.",
):
    tile_row(
        (
            Tile(
                "change_caused_incidents",
                evidence=lambda r: f"{fmt(r['change_caused_p1_p3_incident_count'])} of them P1-P3",
            ),
            Tile(
                "change_caused_outage_hours",
                evidence=lambda r: "open → resolved hours of counted, attributed P1/P2 incidents",
            ),
            Tile("incident_fail_rate", reconcile=incident_fail_reconciliation),
        ),
        kpis.current,
        previous=kpis.previous,
        dq=dq,
        trend=kpis.trend,
        previous_label=kpis.previous_label,
        scope=record_scope(f),  # Records: the incidents counted, the outage hours summed, the changes rated
    )

with st.expander(
    f"Attribution settings of this build: {PUBLISHED_WINDOW_HOURS:g} h window, "
    f"confidence threshold {PUBLISHED_THRESHOLD:g}",
    icon=":material/tune:",
):
    st.caption(
        "Published by the build (rpt_attribution_settings). An inferred candidate counts when it falls within "
        "the window and its confidence (base confidence by CMDB distance, less the time decay) reaches the "
        "threshold; explicit links always count."
    )
    table(
        attribution.select("setting", "value", "description"),
        key="inc_settings_table",
        column_config={"description": st.column_config.TextColumn(width="large")},
    )
bases = attribution.filter(pl.col("setting").str.starts_with(BASE_PREFIX))
decay = data.attribution_setting("attribution_time_decay")
st.caption(
    f"Published attribution: window {PUBLISHED_WINDOW_HOURS:g} h after a change ends, confidence threshold "
    f"{PUBLISHED_THRESHOLD:g}; base confidence "
    + ", ".join(
        f"{BASE_LABELS.get(name.removeprefix(BASE_PREFIX), name.removeprefix(BASE_PREFIX))} {value}"
        for name, value in sorted(
            bases.select("setting", "value").iter_rows(),
            key=lambda nv: (
                list(BASE_LABELS).index(nv[0].removeprefix(BASE_PREFIX))
                if nv[0].removeprefix(BASE_PREFIX) in BASE_LABELS
                else len(BASE_LABELS)
            ),
        )
    )
    + f"; time decay {decay:g} at the window's far edge."
)

caused = data.incidents(
    start=f.period_start,
    end=f.period_end,
    service=service,
    change_caused_only=True,
    cause_filters=cause_filters,
)
st.subheader(
    "Incidents caused by changes and releases",
    help="Every sidebar filter applies: the service is the incident's, the others its cause change's.",
)
if caused.is_empty():
    empty_state(f"No change-caused incidents opened in {f.label}.")
else:
    left, right = st.columns(2)
    with left:
        chart(
            charts.category_histogram(
                labelled(caused.select("primary_cause_method").frame(), "primary_cause_method"),
                column="primary_cause_method",
                title="How each incident was attributed",
            ),
            key="inc_methods",
        )
        st.caption(
            "Explicit = the incident names its cause (confidence 1); inferred = time window + CMDB distance."
        )
    with right:
        restore = (
            caused.where("time_to_restore_hours is not null")
            .select("priority", "time_to_restore_hours")
            .frame()
            .with_columns(pl.format("P{}", pl.col("priority")).alias("priority_label"))
        )
        if restore.is_empty():
            empty_state("No restore times recorded for these incidents.")
        else:
            chart(
                charts.distribution(
                    restore,
                    value="time_to_restore_hours",
                    group="priority_label",
                    title="Time to restore by priority",
                ),
                key="inc_restore",
            )
    drilldown(
        caused.select(
            "number",
            "priority",
            "title",
            "service_name",
            "ci_name",
            "opened_at",
            "cause_change",
            "primary_cause_method",
            "primary_cause_confidence",
            "evidence",
            "primary_cause_release_id",
            "time_to_restore_hours",
            "outage_hours",
            "incident_id",
        ),
        title="Change-caused incidents with their evidence",
        key="inc_caused",
        filename=f"change_caused_incidents_{f.period_start}",
        expanded=True,
    )
    release_caused = caused.where("is_release_caused")
    drilldown(
        release_caused.select(
            "number", "priority", "title", "primary_cause_release_id", "cause_change", "evidence", "opened_at"
        ),
        title="Release-caused incidents",
        key="inc_release",
        filename=f"release_caused_incidents_{f.period_start}",
        empty_message=f"No release-caused incidents opened in {f.label}.",
    )

all_candidates = data.candidates(
    start=f.period_start, end=f.period_end, service=service, change_filters=cause_filters
)
drilldown(
    all_candidates,
    title="Every cause candidate (counted or not)",
    key="inc_candidates",
    filename=f"attribution_candidates_{f.period_start}",
    caption="is_counted: explicit, or confidence ≥ the published threshold. is_primary: the incident's one primary cause.",
)

explore_disabled = dimension_filters_reason(
    f,
    what="The exploration counts incidents by their best candidate of any change, not by a cause change's fields.",
    honoured=("service",),
)
if section("Explore the attribution rules", disabled=explore_disabled):
    with st.container(border=True):
        st.warning(
            "Exploratory — not the published figure. These controls re-filter the published cause candidates "
            f"to show what another window or threshold would do. The published numbers above use a "
            f"{PUBLISHED_WINDOW_HOURS:g} h window and a {PUBLISHED_THRESHOLD:g} confidence threshold "
            "(rpt_attribution_settings).",
            icon=":material/science:",
        )
        left, right = st.columns(2)
        with left:
            window = st.slider(
                "Attribution window (hours after the change ended)",
                min_value=1,
                max_value=int(PUBLISHED_WINDOW_HOURS),
                value=int(PUBLISHED_WINDOW_HOURS),
                key="inc_x_window",
                help="Candidates exist only within the model's own window, so it can only be narrowed here.",
            )
        with right:
            threshold = st.slider(
                "Confidence threshold",
                min_value=0.0,
                max_value=1.0,
                value=PUBLISHED_THRESHOLD,
                step=0.05,
                help=f"Published: {PUBLISHED_THRESHOLD:g}.",
                key="inc_x_threshold",
            )
        explored = data.exploratory_attribution(
            start=f.period_start,
            end=f.period_end,
            window_hours=float(window),
            min_confidence=float(threshold),
            service=service,
        )
        if explored.is_empty():
            empty_state("No incident would be attributed to a change with these settings.")
        else:
            st.metric(
                "Incidents with a cause (exploratory)",
                fmt(explored["total_incidents"][0]),
                delta=f"published: {fmt(caused.count())} change-caused incidents",
                delta_color="off",
                delta_arrow="off",
                help="Incidents opened in the period with at least one candidate inside the window and threshold.",
            )
            chart(
                charts.count_bars(
                    labelled(explored, "method"),
                    category="method",
                    values={"incidents": "Incidents"},
                    title=f"Exploratory: incidents with a cause at ≤ {window} h and confidence ≥ {threshold:.2f}, by best method",
                ),
                key="inc_explore",
            )
            drilldown(
                explored,
                title="Exploratory counts",
                key="inc_explore_rows",
                filename="exploratory_attribution",
                caption="Exploratory — not the published figure.",
            )
