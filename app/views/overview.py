"""Overview: the headline change KPIs of the chosen period against the previous one, DORA keys, trends."""

from __future__ import annotations

from datetime import date

import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import (
    Tile,
    chart,
    clickable_chart,
    described,
    dimension_filters_reason,
    drilldown,
    empty_state,
    failed_reconciliation,
    fmt,
    incident_fail_reconciliation,
    metrics,
    open_point,
    published_kpis,
    record_scope,
    scope_note,
    section,
    tile_row,
    type_filter_reasons,
)

# The tiles, as data: each names a metric declared in dbt (rpt_metric_definitions: label, unit,
# numerator / denominator, help, band, confidence); a tile only adds an evidence line where the page
# says more than "numerator / denominator".
OUTCOMES = (
    Tile(
        "change_success_rate",
        reconcile=lambda r: (
            f"{fmt(r['change_success_numerator'])} successful + {fmt(r['unsuccessful_count'])} unsuccessful "
            f"= {fmt(r['completed_count'])} completed"
        ),
    ),
    Tile("failed_rate", reconcile=failed_reconciliation),
    Tile("unsuccessful_rate"),
    Tile("incident_fail_rate", reconcile=incident_fail_reconciliation),
    Tile("backout_rate"),
)
INTAKE_POLICY_SPEED = (
    Tile(
        "changes_opened",
        evidence=lambda r: f"{r['changes_closed']:,} closed · backlog growth {r['backlog_growth']:+,}",
    ),
    Tile("emergency_ratio"),
    Tile("unauthorized_ratio"),
    Tile(
        "lead_time_to_production",
        evidence=lambda r: (
            f"median · p90 {fmt(r['lead_time_to_production_p90_hours'], 'hours')} · "
            f"{fmt(r['lead_time_to_production_count'])} changes"
        ),
    ),
    Tile(
        "change_caused_incidents",
        evidence=lambda r: (
            f"{r['change_caused_p1_p3_incident_count']:,} of them P1-P3 · "
            f"{fmt(r['change_caused_outage_hours'], 'decimal')} outage hours (P1/P2)"
        ),
    ),
)
DORA_KEYS = (
    Tile(
        "deployment_frequency",
        evidence=lambda r: f"{fmt(r['deployment_count'])} deployments on {fmt(r['deployment_days'])} days",
    ),
    Tile(
        "lead_time_for_changes",
        evidence=lambda r: f"median of {fmt(r['lead_time_for_changes_count'])} deployed changes",
    ),
    Tile("change_fail_rate"),
    Tile(
        "failed_deployment_recovery_time",
        evidence=lambda r: f"median of {fmt(r['recovered_failure_count'])} failed changes",
    ),
    Tile("rework_rate"),
)

f = filters.current()
st.title("Overview")
if f.period_start is None:
    empty_state("No changes in the warehouse yet.", "Ingest exports and run `changeboard build`.")
    st.stop()

kpis = published_kpis(f)
dimension, value = kpis.dimension, kpis.value
scope = "all changes" if dimension == "all" else f"{dimension.replace('_', ' ')} = {value}"
scope_note(f"{described(f)} · compared with the period before", [], kpi_scope=scope)

cur, prev, trend = kpis.current, kpis.previous, kpis.trend
dq = data.metric_confidence()
defs = metrics()  # labels and targets (rpt_metric_definitions)
unavailable = type_filter_reasons(f)
rf = f.record_filters()
outcome_label = kpis.previous_label
if kpis.disabled:
    # several filters at once: the outcome rates from the published outcome cells, which add up to
    # rpt_change_kpis (DECISIONLOG D45); the deployment-dated rate is published one filter at a time
    def _one(start: date, end: date) -> dict[str, object] | None:
        rows = data.outcome_counts(grain=f.grain, by="period_start", start=start, end=end, filters=rf)
        return (
            None
            if rows.is_empty()
            else {**rows.row(0, named=True), "period_start": start, "period_grain": f.grain}
        )

    cur = _one(f.period_start, f.period_end)
    prev = None if f.partial_days is not None else _one(f.previous_start, f.period_start)
    outcome_label = "before"
    trend = data.outcome_counts(
        grain=f.grain, by="period_start", start=f.trend_start, end=f.period_end, filters=rf
    )
    unavailable = {
        **unavailable,
        "incident_fail_rate": "it counts by deployment date and is published one filter at a time.",
    }

if section(
    "Outcomes",
    help="Outcome metrics count completed changes by the day they closed; the incident-based fail rate "
    "counts them by the day they were deployed (actual end).",
):
    if cur is None:
        empty_state(
            f"No changes in this period ({f.label}, {scope}).", "Pick another period or clear a filter."
        )
    else:
        if kpis.disabled:
            st.caption(
                f"Every filter applies: {described(f)}. Summed from the published outcome counts; "
                + ("no like-for-like comparison under several filters." if f.partial_days is not None else "")
            )
        tile_row(
            OUTCOMES,
            cur,
            previous=prev,
            dq=dq,
            trend=trend,
            previous_label=outcome_label,
            unavailable=unavailable,
            scope=record_scope(f),  # a tile's Records button opens its numerator's and denominator's records
        )
if section("Intake, policy and speed", disabled=kpis.disabled) and cur is not None:
    tile_row(
        INTAKE_POLICY_SPEED,
        cur,
        previous=prev,
        dq=dq,
        trend=trend,
        previous_label=kpis.previous_label,
        unavailable=unavailable,
        scope=record_scope(f),
    )

if section(
    "DORA keys",
    disabled=dimension_filters_reason(
        f, what="DORA keys are published for all deployments (rpt_dora has no breakdown)."
    ),
    help="Deployments by the day they ended (actual end), all changes.",
):
    dcur, dprev = data.dora_pair(grain=f.grain, period_start=f.period_start, previous_start=f.previous_start)
    dora_label = "before"
    if f.partial_days is not None:  # rpt_dora publishes whole periods only: no like-for-like row
        dprev, dora_label = None, "before"
        st.caption(
            f"{f.label} is not complete and DORA keys are published for whole periods only: "
            "no change from the period before is shown."
        )
    if dcur is None:
        empty_state(f"No deployments in this period ({f.label}).")
    else:
        dtrend = data.dora(grain=f.grain, start=f.trend_start, end=f.period_end)
        tile_row(
            DORA_KEYS,
            dcur,
            previous=dprev,
            dq=dq,
            trend=dtrend,
            previous_label=dora_label,
            scope=record_scope(f, key="dora"),  # a DORA tile's Records: the deployments, failures, recoveries
        )

if not section(f"Trends: last {f.trend_periods} {f.grain}s", disabled=kpis.disabled):
    pass
elif trend.is_empty():
    empty_state(f"No changes in these {f.grain}s for {scope}.")
else:
    # chart series are named as the tiles, their dotted lines are the published targets; a click on a
    # bar or a point opens the records of that series' metric in that period
    periods = trend["period_start"].to_list()
    left, right = st.columns(2)
    with left:
        clickable_chart(
            charts.volume_bars(
                trend,
                x="period_start",
                series={"changes_opened": "Opened", "completed_count": "Completed"},
                title=f"Change volume per {f.grain}",
            ),
            key="ov_volume",
            on_click=open_point(("changes_opened", "completed_count"), periods, f),
        )
    with right:
        clickable_chart(
            charts.rate_trend(
                trend,
                x="period_start",
                series={m: defs[m].label for m in ("change_success_rate", "failed_rate")},
                numerators={
                    "change_success_rate": ("change_success_numerator", "completed_count"),
                    "failed_rate": ("failed_count", "completed_count"),
                },
                targets={m: defs[m].target_value for m in ("change_success_rate", "failed_rate")},
                title=f"Change success and failure per {f.grain}",
                full_scale=True,
            ),
            key="ov_success",
            on_click=open_point(("change_success_rate", "failed_rate"), periods, f),
        )
    policy = [m for m in ("emergency_ratio", "unauthorized_ratio") if m not in unavailable]
    left, right = st.columns(2)
    with left:
        chart(
            charts.hours_trend(
                trend,
                x="period_start",
                median="request_lead_time_median_hours",
                p90="request_lead_time_p90_hours",
                title=f"Request lead time per {f.grain} (opened → closed)",
            ),
            key="ov_leadtime",
        )
    with right:
        clickable_chart(
            charts.rate_trend(
                trend,
                x="period_start",
                series={m: defs[m].label for m in policy},
                numerators={
                    "emergency_ratio": ("emergency_count", "changes_opened"),
                    "unauthorized_ratio": ("unauthorized_count", "completed_count"),
                },
                targets={m: defs[m].target_value for m in policy},
                title=(
                    f"Emergency and unauthorized ratios per {f.grain}"
                    if "emergency_ratio" in policy
                    else f"Unauthorized ratio per {f.grain} (no emergency ratio under the change-type filter)"
                ),
            ),
            key="ov_policy",
            on_click=open_point(tuple(policy), periods, f),
        )
    drilldown(
        trend.select(
            "period_start",
            "changes_opened",
            "changes_closed",
            "completed_count",
            "change_success_numerator",
            "change_success_rate",
            "failed_count",
            "failed_rate",
            "emergency_count",
            "emergency_ratio",
            "unauthorized_count",
            "unauthorized_ratio",
            "request_lead_time_median_hours",
            "request_lead_time_p90_hours",
            "request_lead_time_count",
        ),
        title="Published figures behind the trends",
        key="ov_trend_rows",
        filename=f"kpis_{f.grain}",
        caption="Rows of rpt_change_kpis for the slice and periods shown.",
    )

st.subheader(f"Records behind the KPIs ({f.label})")
drilldown(
    data.changes(start=f.period_start, end=f.period_end, event="closed", subset="completed", filters=rf),
    title="Completed changes closed in the period",
    key="ov_completed",
    filename=f"completed_changes_{f.period_start}",
    caption="The denominator of the outcome rates; is_failed / is_failed_itil / is_failed_incident mark the numerators.",
)
drilldown(
    data.changes(start=f.period_start, end=f.period_end, event="opened", filters=rf),
    title="Changes opened in the period",
    key="ov_opened",
    filename=f"opened_changes_{f.period_start}",
    caption="The denominator of the emergency ratio.",
)
drilldown(
    data.changes(start=f.period_start, end=f.period_end, event="deployed", subset="completed", filters=rf),
    title="Completed changes deployed (actual end) in the period",
    key="ov_deployed",
    filename=f"deployed_changes_{f.period_start}",
    caption="The denominator of the incident-based fail rate and the lead time to production.",
)
