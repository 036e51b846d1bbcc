"""Services & CIs: hot spots (CIs and services with most changes, failures and caused incidents), the
change success score by assignment group, and one CI's history with its CMDB neighbours."""

from __future__ import annotations

import polars as pl
import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import chart, drilldown, empty_state, metrics

# CIs the history picker offers at once; a name search reaches the others.
CI_CHOICES = 1000
# Minimum-volume rule: a service or group is ranked by a rate only with this many completed changes
# in the period; the TOP_N worst are drawn, "show all" draws every ranked one.
MIN_VOLUME = 10
TOP_N = 15
COMPARE = {"Service": "service", "Assignment group": "assignment_group"}

f = filters.current()
st.title("Services & CIs")
st.caption(
    "Services and groups are compared by rates over the sidebar's period (rpt_change_kpis); the CI hot "
    "spots and the Services table are all-time counts (dim_configuration_items, dim_services); the change "
    "success score can be shown all time or for the month selected in the sidebar."
)

st.subheader(
    f"Services and assignment groups compared by rate ({f.label})",
    help="rpt_change_kpis of the sidebar's period: failed-change rate = failed / completed changes, "
    "by the day they closed.",
)
compare = st.segmented_control(
    "Compare",
    list(COMPARE),
    default="Service",
    required=True,
    key="svc_compare",
)
if f.period_start is None:
    empty_state("No changes in the warehouse yet.")
else:
    ranked, small = data.rates_by(
        grain=f.grain, dimension=COMPARE[compare], period_start=f.period_start, min_volume=MIN_VOLUME
    )
    noun = compare.lower() + "s"
    if ranked.is_empty():
        empty_state(
            f"No {compare.lower()} has {MIN_VOLUME} or more completed changes in {f.label}, "
            "so none is ranked by rate.",
            "Pick a longer period (a month rather than a week).",
        )
    else:
        show_all = False
        if ranked.height > TOP_N:
            show_all = st.toggle(f"Show all {ranked.height:,} {noun}", key="svc_compare_all")
        shown = ranked if show_all else ranked.head(TOP_N)
        st.caption(
            f"The {shown.height:,} {noun} with the highest failed-change rate among the {ranked.height:,} with at "
            f"least {MIN_VOLUME} completed changes in {f.label} (the minimum-volume rule: a rate on fewer "
            f"changes says little). {small.height:,} {noun} with fewer are listed below, not ranked."
        )
        chart(
            charts.rate_by_category(
                shown,
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
            ranked,
            title=f"Rates of every ranked {compare.lower()}",
            key="svc_rate_rows",
            filename=f"rates_by_{COMPARE[compare]}_{f.period_start}",
        )
    drilldown(
        small,
        title=f"{compare}s below the minimum volume ({MIN_VOLUME} completed changes)",
        key="svc_small_rows",
        filename=f"below_minimum_{COMPARE[compare]}_{f.period_start}",
    )
svc = data.services()
drilldown(
    svc, title="Services", key="svc_rows", filename="services", caption="All-time counts (dim_services)."
)

st.subheader("Hot spots: configuration items")
order = st.segmented_control(
    "Rank CIs by",
    ["change_count", "failed_change_count", "caused_incident_count", "incident_count"],
    default="failed_change_count",
    required=True,
    key="svc_rank",
    format_func=lambda c: {
        "change_count": "Changes",
        "failed_change_count": "Failed changes",
        "caused_incident_count": "Caused incidents",
        "incident_count": "Incidents",
    }[c],
)
hot = data.configuration_items(limit=20, order_by=order)
if hot.is_empty():
    empty_state("No CI has any change or incident yet.")
else:
    chart(
        charts.count_bars(
            hot,
            category="name",
            values={
                "change_count": "Changes",
                "failed_change_count": "Failed changes",
                "caused_incident_count": "Caused incidents",
            },
            title="The 20 hottest CIs",
        ),
        key="svc_hot",
    )
    drilldown(hot, title="Hot CIs", key="svc_hot_rows", filename=f"hot_cis_by_{order}")

st.subheader("Change success score by assignment group")
chosen_month = f.period_start if f.grain == "month" else None
scope_options = ["all"] + ([chosen_month] if chosen_month else [])
scope_pick = st.segmented_control(
    "Score over",
    scope_options,
    default="all",
    required=True,
    key="svc_score_scope",
    format_func=lambda v: "All time" if v == "all" else f"{v:%b %Y} (by closed date)",
)
scores = data.success_scores(period_start=None if scope_pick == "all" else scope_pick)
scope_text = "all time" if scope_pick == "all" else f"{scope_pick:%b %Y}"
if scores.is_empty():
    empty_state(f"No assignment group has changes ({scope_text}).")
else:
    st.caption(
        "ServiceNow weights (seed change_success_score_weights): 3 × successful − 2 × successful with issues "
        "− 5 × unsuccessful − 10 × P1 − 5 × P2 − 2 × P3 caused incidents (rpt_change_success_score). "
        "The total grows with volume, so groups are compared per completed change: +3 is every change "
        "successful with no caused incident, 0 is as many points lost as earned, below 0 more lost. "
        f"Groups with fewer than {MIN_VOLUME} completed changes are not ranked (their rows are in the table)."
    )
    ranked_scores = scores.filter(pl.col("completed_count") >= MIN_VOLUME).sort(
        ["score_per_change", "assignment_group"], descending=[True, False]
    )
    show_all_groups = False
    if ranked_scores.height > TOP_N:
        show_all_groups = st.toggle(f"Show all {ranked_scores.height:,} groups", key="svc_score_all")
    # the best and the worst TOP_N // 2 each, unless all are shown
    drawn = (
        ranked_scores
        if show_all_groups or ranked_scores.height <= TOP_N
        else pl.concat([ranked_scores.head(TOP_N // 2 + 1), ranked_scores.tail(TOP_N // 2)])
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
                title=f"Change success score per completed change ({scope_text}; "
                + ("every ranked group" if drawn.height == ranked_scores.height else "the best and the worst")
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

st.subheader("A CI's history")
search = st.text_input(
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
    ci_id = st.selectbox("Configuration item", list(labels), format_func=labels.get, key="svc_ci")
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
                expanded=True,
                empty_message="No changes name this CI as their primary CI.",
            )
        with right:
            drilldown(
                incidents,
                title="Incidents on this CI",
                key="svc_ci_incidents",
                filename="ci_incidents",
                expanded=True,
                empty_message="No incidents on this CI.",
            )
        st.markdown("**Its CMDB neighbours** (within two relationships, dim_ci_relationships)")
        cmdb = data.ci_neighbours(ci_id=ci_id)
        if cmdb.is_empty():
            empty_state("This CI has no relationship in the CMDB export.")
        else:
            hops = data.ci_neighbour_counts(ci_id=ci_id)
            st.caption(
                f"{hops['direct']:,} directly related, {hops['two_hop']:,} two relationships away "
                "(2-hop paths never pass through a business service or a hub CI)."
            )
            drilldown(
                cmdb,
                title="CMDB neighbours",
                key="svc_ci_cmdb",
                filename="ci_neighbours",
                expanded=True,
            )
        drilldown(
            neighbours,
            title="Changes on its CMDB neighbours that are cause candidates of its incidents",
            key="svc_ci_neighbours",
            filename="ci_neighbour_changes",
            caption="The relationship path says how the neighbour connects to this CI (from the attribution model).",
            empty_message="No change on a neighbouring CI is a cause candidate of this CI's incidents.",
            lazy=True,  # read when opened: at 1M changes its page alone took ~70 ms of the page's budget
        )
