"""Services & CIs: services, assignment groups and CIs compared by rate under every sidebar filter
(a minimum-volume rule, the worst few drawn, "show all" for every one), the change success score per
completed change by assignment group, and one CI's history with its CMDB neighbours. Two screens by
default: the long lists sit in collapsed tables."""

from __future__ import annotations

import polars as pl
import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import (
    chart,
    described,
    dimension_filters_reason,
    drilldown,
    empty_state,
    labelled,
    metrics,
    section,
)

# CIs the history picker offers at once; a name search reaches the others.
CI_CHOICES = 1000
# Minimum-volume rule: a service, group or CI is ranked by a rate only with this many completed
# changes in the period; the TOP_N worst are drawn, "show all" draws every ranked one.
MIN_VOLUME = 10
TOP_N = 8
COMPARE = {
    "Service": "service_name",
    "Assignment group": "assignment_group",
    "Configuration item": "primary_ci_name",
}
# the change success score per completed change runs from -5 (every change unsuccessful) less the
# incident points, to +3 (every change successful, none caused an incident): ServiceNow's weights
SCORE_SCALE = (
    "Scale: the score per completed change is +3 when every change succeeded cleanly, +1 when all succeeded "
    "with issues, −5 when all were unsuccessful, lower with caused incidents; the total grows with volume, so "
    "groups are compared per change."
)

f = filters.current()
st.title("Services & CIs")
if f.period_start is None:
    empty_state("No changes in the warehouse yet.", "Ingest exports and run `changeboard build`.")
    st.stop()

st.subheader(
    f"Services, groups and CIs compared by rate ({f.label})",
    help="Failed-change rate = failed / completed changes, summed from the published outcome counts "
    "(rpt_change_outcome_cells, which add up to rpt_change_kpis).",
)
compare_place, compare_all_place = st.columns([3, 2], vertical_alignment="bottom")
compare = compare_place.segmented_control(
    "Compare", list(COMPARE), default="Service", required=True, key="svc_compare"
)
compare = compare or "Service"
column = COMPARE[compare]
noun = {"Service": "services", "Assignment group": "groups", "Configuration item": "CIs"}[compare]
rows = data.outcome_counts(
    grain=f.grain, by=column, start=f.period_start, end=f.period_end, filters=f.record_filters()
)
ranked = rows.filter(pl.col("completed_count") >= MIN_VOLUME).sort(
    ["failed_rate", "completed_count", "dimension_value"], descending=[True, True, False]
)
small = rows.filter(pl.col("completed_count") < MIN_VOLUME)
if ranked.is_empty():
    empty_state(
        f"No {compare.lower()} has {MIN_VOLUME} or more completed changes in {f.label} for these filters, "
        "so none is ranked by rate.",
        "Pick a longer period (a month rather than a week) or clear a filter.",
    )
else:
    show_all = False
    if ranked.height > TOP_N:
        show_all = compare_all_place.toggle(
            f"Show all {ranked.height:,} ranked {noun}", key="svc_compare_all"
        )
    shown = ranked if show_all else ranked.head(TOP_N)
    st.caption(
        f"Every sidebar filter applies ({described(f)}; changes by the day they closed). The {shown.height:,} {noun} with the highest failed-change rate among the "
        f"{ranked.height:,} with at least {MIN_VOLUME} completed changes in {f.label} (the minimum-volume rule: a "
        f"rate on fewer changes says little); {small.height:,} with fewer are in the table below, not ranked."
    )
    chart(
        charts.rate_by_category(
            labelled(shown, "dimension_value"),
            category="dimension_value",
            rate="failed_rate",
            numerator="failed_count",
            denominator="completed_count",
            title=f"Failed-change rate by {compare.lower()}, {f.label} (highest first)",
            target=metrics()["failed_rate"].target_value,
        ),
        key="svc_rates",
    )
drilldown(
    pl.concat([ranked, small])
    .with_columns((pl.col("completed_count") >= MIN_VOLUME).alias("ranked"))
    .select(
        pl.col("dimension_value").alias(column),
        "ranked",
        "completed_count",
        "failed_count",
        "failed_rate",
        "change_success_numerator",
        "change_success_rate",
    ),
    title=f"Rates of every {compare.lower()} (ranked and below the minimum volume)",
    key="svc_rate_rows",
    filename=f"rates_by_{column}_{f.period_start}",
)

score_disabled = dimension_filters_reason(
    f,
    what="The change success score is published per assignment group only (rpt_change_success_score).",
    honoured=("assignment_group",),
)
if section("Change success score by assignment group", disabled=score_disabled):
    chosen_month = f.period_start if f.grain == "month" else None
    scope_options = ["all"] + ([chosen_month] if chosen_month else [])
    score_place, score_all_place = st.columns([3, 2], vertical_alignment="bottom")
    scope_pick = score_place.segmented_control(
        "Score over",
        scope_options,
        default="all",
        required=True,
        key="svc_score_scope",
        format_func=lambda v: "All time" if v == "all" else f"{v:%b %Y} (by closed date)",
    )
    scores = data.success_scores(period_start=None if scope_pick in (None, "all") else scope_pick)
    group = f.dims.get("assignment_group")
    if group:
        scores = scores.filter(pl.col("assignment_group") == group)
    scope_text = "all time" if scope_pick in (None, "all") else f"{scope_pick:%b %Y}"
    if scores.is_empty():
        empty_state(f"No assignment group has changes ({scope_text}" + (f", {group}" if group else "") + ").")
    else:
        st.caption(
            "ServiceNow weights: 3 × successful − 2 × with issues − 5 × unsuccessful − 10 / 5 / 2 × caused P1 / P2 "
            f"/ P3. {SCORE_SCALE} Groups under {MIN_VOLUME} completed changes are not ranked (see the table)."
        )
        ranked_scores = scores.filter(pl.col("completed_count") >= MIN_VOLUME).sort(
            ["score_per_change", "assignment_group"], descending=[True, False]
        )
        show_all_groups = False
        if ranked_scores.height > TOP_N:
            show_all_groups = score_all_place.toggle(
                f"Show all {ranked_scores.height:,} groups", key="svc_score_all"
            )
        # the best and the worst TOP_N // 2 each, unless all are shown
        drawn = (
            ranked_scores
            if show_all_groups or ranked_scores.height <= TOP_N
            else pl.concat([ranked_scores.head(TOP_N // 2), ranked_scores.tail(TOP_N // 2)])
        )
        if drawn.is_empty():
            empty_state(f"No assignment group has {MIN_VOLUME} or more completed changes ({scope_text}).")
        else:
            chart(
                charts.score_bars(
                    drawn,
                    category="assignment_group",
                    value="score_per_change",
                    decimals=2,
                    title=f"Change success score per completed change, −5 to +3 ({scope_text}; "
                    + (
                        "every ranked group"
                        if drawn.height == ranked_scores.height
                        else "the best and the worst"
                    )
                    + ")",
                ),
                key="svc_score",
            )
        drilldown(
            scores.select(
                "assignment_group",
                "change_success_score",
                "score_per_change",
                "change_count",
                "completed_count",
                "successful_count",
                "successful_with_issues_count",
                "unsuccessful_count",
                "caused_p1_count",
                "caused_p2_count",
                "caused_p3_count",
                "successful_points",
                "successful_with_issues_points",
                "unsuccessful_points",
                "caused_incident_points",
            ),
            title="Change success score with its components",
            key="svc_groups",
            filename=f"change_success_score_{scope_pick}",
        )

st.subheader(
    "A CI's history (all time; a look-up the sidebar filters do not narrow)",
    help="Every change and incident of one CI, all time, and its CMDB neighbours.",
)
search_place, pick_place = st.columns(2)
search = search_place.text_input(
    "Find a CI by name",
    key="svc_ci_search",
    placeholder="part of the name, e.g. db-",
    help=f"The picker lists the {CI_CHOICES:,} busiest CIs (most changes) whose name contains this text.",
).strip()
cis = data.ci_choices(search=search or None, limit=CI_CHOICES)
if cis.is_empty():
    empty_state(
        f"No CI named like “{search}” has any change or incident."
        if search
        else "No CI has any change or incident yet."
    )
else:
    matching = int(cis["matching"][0])
    if matching > cis.height:
        st.caption(
            f"The {cis.height:,} busiest of {matching:,} CIs with changes or incidents"
            + (f" named like “{search}”" if search else "")
            + ": type part of a name above to find another."
        )
    labels = {
        row["ci_id"]: f"{row['name']} ({row['ci_class']}, {row['service_name'] or 'no service'})"
        for row in cis.iter_rows(named=True)
    }
    ci_id = pick_place.selectbox("Configuration item", list(labels), format_func=labels.get, key="svc_ci")
    if ci_id:
        changes, incidents = data.ci_history(ci_id=ci_id)
        neighbours = data.ci_related_changes(ci_id=ci_id)
        left, right = st.columns(2)
        with left:
            drilldown(
                changes,
                title="Changes on this CI",
                key="svc_ci_changes",
                filename="ci_changes",
                empty_message="No changes name this CI as their primary CI.",
            )
        with right:
            drilldown(
                incidents,
                title="Incidents on this CI",
                key="svc_ci_incidents",
                filename="ci_incidents",
                empty_message="No incidents on this CI.",
            )
        cmdb = data.ci_neighbours(ci_id=ci_id)
        left, right = st.columns(2)
        with left:
            if cmdb.is_empty():
                empty_state("This CI has no relationship in the CMDB export.")
            else:
                hops = data.ci_neighbour_counts(ci_id=ci_id)
                drilldown(
                    cmdb,
                    title="CMDB neighbours",
                    key="svc_ci_cmdb",
                    filename="ci_neighbours",
                    caption=f"Within two relationships (dim_ci_relationships): {hops['direct']:,} directly related, "
                    f"{hops['two_hop']:,} two relationships away (2-hop paths never pass through a business service "
                    "or a hub CI).",
                )
        with right:
            drilldown(
                neighbours,
                title="Changes on its CMDB neighbours that are cause candidates of its incidents",
                key="svc_ci_neighbours",
                filename="ci_neighbour_changes",
                caption="The relationship path says how the neighbour connects to this CI (from the attribution model).",
                empty_message="No change on a neighbouring CI is a cause candidate of this CI's incidents.",
                lazy=True,  # read when opened: at 1M changes its page alone took ~70 ms of the page's budget
            )
drilldown(
    data.services(),
    title="Services, all time (dim_services; the sidebar filters do not apply)",
    key="svc_rows",
    filename="services",
)
