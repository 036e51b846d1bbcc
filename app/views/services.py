"""Services & CIs: hot spots (CIs and services with most changes, failures and caused incidents), the
change success score by assignment group, and one CI's history with its CMDB neighbours."""

from __future__ import annotations

import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import chart, drilldown, empty_state

# CIs the history picker offers at once; a name search reaches the others.
CI_CHOICES = 1000

f = filters.current()
st.title("Services & CIs")
st.caption(
    "All-time figures from dim_services, dim_configuration_items and dim_assignment_groups "
    "(the period and filters in the sidebar do not apply to these totals; the change success score can "
    "also be shown for the month selected in the sidebar)."
)

svc = data.services()
st.subheader("Services")
if svc.is_empty():
    empty_state("No business services in the CMDB export.")
else:
    chart(
        charts.count_bars(
            svc,
            category="service_name",
            values={
                "change_count": "Changes",
                "failed_change_count": "Failed changes",
                "caused_incident_count": "Incidents caused by its changes",
                "incident_count": "Incidents",
            },
            title="Changes, failures and incidents per service",
        ),
        key="svc_bars",
    )
    drilldown(svc, title="Services", key="svc_rows", filename="services")

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
        "− 5 × unsuccessful − 10 × P1 − 5 × P2 − 2 × P3 caused incidents (rpt_change_success_score)."
    )
    chart(
        charts.score_bars(
            scores,
            category="assignment_group",
            value="change_success_score",
            title=f"Change success score per assignment group ({scope_text}; lowest at the bottom)",
        ),
        key="svc_score",
    )
    drilldown(
        scores.select(
            "assignment_group",
            "change_success_score",
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
