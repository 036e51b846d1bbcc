"""Services & CIs: hot spots (CIs and services with most changes, failures and caused incidents), the
change success score by assignment group, and one CI's history with its CMDB neighbours."""

from __future__ import annotations

import streamlit as st

from app import charts, data
from app.components import chart, drilldown, empty_state

st.title("Services & CIs")
st.caption(
    "All-time figures from dim_services, dim_configuration_items and dim_assignment_groups "
    "(the period and filters in the sidebar do not apply to these totals)."
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
groups = data.assignment_groups()
if groups.is_empty():
    empty_state("No assignment groups yet.")
else:
    st.caption(
        "ServiceNow weights (seed change_success_score_weights): 3 × successful − 2 × successful with issues "
        "− 5 × unsuccessful − 10 × P1 − 5 × P2 − 2 × P3 caused incidents."
    )
    chart(
        charts.score_bars(
            groups,
            category="assignment_group",
            value="change_success_score",
            title="Change success score per assignment group (all time; lowest at the bottom)",
        ),
        key="svc_score",
    )
    drilldown(
        groups, title="Assignment groups with their counts", key="svc_groups", filename="assignment_groups"
    )

st.subheader("A CI's history")
cis = data.ci_choices()
if cis.is_empty():
    empty_state("No CI has any change or incident yet.")
else:
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
        drilldown(
            neighbours,
            title="Changes on its CMDB neighbours that are cause candidates of its incidents",
            key="svc_ci_neighbours",
            filename="ci_neighbour_changes",
            caption="The relationship path says how the neighbour connects to this CI (from the attribution model).",
            empty_message="No change on a neighbouring CI is a cause candidate of this CI's incidents.",
        )
