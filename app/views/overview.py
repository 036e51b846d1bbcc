"""Overview: the headline change KPIs of the chosen period against the previous one, DORA keys, trends."""

from __future__ import annotations

import streamlit as st
from changeboard.app import charts, data, filters
from changeboard.app.components import (
    chart,
    drilldown,
    empty_state,
    fmt,
    get,
    kpi_tile,
    low_confidence_reason,
    scope_note,
)

f = filters.current()
st.title("Overview")
if f.period_start is None:
    empty_state("No changes in the warehouse yet.", "Ingest exports and run `changeboard build`.")
    st.stop()

dimension, value, ignored = f.kpi_slice()
scope = "all changes" if dimension == "all" else f"{dimension.replace('_', ' ')} = {value}"
scope_note(f"{f.describe()} · compared with the period before", ignored, kpi_scope=scope)

cur, prev = data.kpi_pair(
    grain=f.grain,
    dimension=dimension,
    value=value,
    period_start=f.period_start,
    previous_start=f.previous_start,
)
dq = data.metric_confidence()


def lc(metric: str) -> str | None:
    return low_confidence_reason(dq, metric)


if cur is None:
    empty_state(f"No changes in this period ({f.label}, {scope}).", "Pick another period or clear a filter.")
else:
    st.subheader("Outcomes", help="Outcome metrics count completed changes by the day they closed.")
    c = st.columns(5)
    with c[0]:
        kpi_tile(
            "Change success rate",
            cur["change_success_rate"],
            numerator=cur["change_success_numerator"],
            denominator=cur["completed_count"],
            unit="completed changes",
            previous=get(prev, "change_success_rate"),
            help="(successful + successful with issues) / completed changes, by closed date.",
            low_confidence=lc("change_success_rate"),
        )
    with c[1]:
        kpi_tile(
            "Failed-change rate",
            cur["failed_rate"],
            numerator=cur["failed_count"],
            denominator=cur["completed_count"],
            unit="completed changes",
            previous=get(prev, "failed_rate"),
            help="Headline: unsuccessful OR at least one counted, attributed P1-P3 incident / completed changes.",
            low_confidence=lc("failed_rate"),
        )
    with c[2]:
        kpi_tile(
            "Unsuccessful (ITIL)",
            cur["unsuccessful_rate"],
            numerator=cur["unsuccessful_count"],
            denominator=cur["completed_count"],
            unit="completed changes",
            previous=get(prev, "unsuccessful_rate"),
            help="Unsuccessful rate (ITIL): unsuccessful (backed out included) / completed changes, by closed date.",
            low_confidence=lc("unsuccessful_rate"),
        )
    with c[3]:
        kpi_tile(
            "Incident fail rate",
            cur["incident_fail_rate"],
            numerator=cur["incident_failed_count"],
            denominator=cur["deployed_completed_count"],
            unit="deployed changes",
            previous=get(prev, "incident_fail_rate"),
            help="Incident-based fail rate: completed changes with at least one counted P1-P3 incident / completed changes, by actual end.",
            low_confidence=lc("incident_fail_rate"),
        )
    with c[4]:
        kpi_tile(
            "Backout rate",
            cur["backout_rate"],
            numerator=cur["backed_out_count"],
            denominator=cur["completed_count"],
            unit="completed changes",
            previous=get(prev, "backout_rate"),
            help="Backed-out changes / completed changes, by closed date.",
            low_confidence=lc("backout_rate"),
        )

    st.subheader("Intake, policy and speed")
    c = st.columns(5)
    with c[0]:
        kpi_tile(
            "Changes opened",
            cur["changes_opened"],
            kind="count",
            evidence=f"{cur['changes_closed']:,} closed · backlog growth {cur['backlog_growth']:+,}",
            previous=get(prev, "changes_opened"),
            help="Changes opened in the period (by opened date); closed includes canceled and unknown outcomes.",
        )
    with c[1]:
        kpi_tile(
            "Emergency ratio",
            cur["emergency_ratio"],
            numerator=cur["emergency_count"],
            denominator=cur["changes_opened"],
            unit="changes opened",
            previous=get(prev, "emergency_ratio"),
            help="Emergency change ratio: emergency changes / changes opened in the period.",
        )
    with c[2]:
        kpi_tile(
            "Unauthorized ratio",
            cur["unauthorized_ratio"],
            numerator=cur["unauthorized_count"],
            denominator=cur["completed_count"],
            unit="completed changes",
            previous=get(prev, "unauthorized_ratio"),
            help="Flagged unauthorized, implemented before approval, or without a required approval / completed.",
            low_confidence=lc("unauthorized_ratio"),
        )
    with c[3]:
        kpi_tile(
            "Time to production",
            cur["lead_time_to_production_median_hours"],
            kind="hours",
            evidence=(
                f"median · p90 {fmt(cur['lead_time_to_production_p90_hours'], 'hours')} · "
                f"{fmt(cur['lead_time_to_production_count'])} changes"
            ),
            previous=get(prev, "lead_time_to_production_median_hours"),
            help="Lead time to production: opened → actual end of completed changes ending in the period (median; p90 below).",
            low_confidence=lc("lead_time_to_production"),
        )
    with c[4]:
        kpi_tile(
            "Caused incidents",
            cur["change_caused_incident_count"],
            kind="count",
            evidence=(
                f"{cur['change_caused_p1_p3_incident_count']:,} of them P1-P3 · "
                f"{fmt(cur['change_caused_outage_hours'], 'decimal')} outage hours (P1/P2)"
            ),
            previous=get(prev, "change_caused_incident_count"),
            help="Change-caused incidents: incidents opened in the period whose primary, counted cause is a change.",
            low_confidence=lc("change_caused_incidents"),
        )

st.subheader(
    "DORA keys",
    help="Published for all changes (rpt_dora has no breakdown): the service / group / type filters do not apply.",
)
dcur, dprev = data.dora_pair(grain=f.grain, period_start=f.period_start, previous_start=f.previous_start)
if dcur is None:
    empty_state(f"No deployments in this period ({f.label}).")
else:
    c = st.columns(5)
    with c[0]:
        kpi_tile(
            "Deploy frequency",
            dcur["deployments_per_day"],
            kind="per_day",
            evidence=f"{fmt(dcur['deployment_count'])} deployments on {fmt(dcur['deployment_days'])} days",
            previous=get(dprev, "deployments_per_day"),
            band=dcur["deployment_frequency_band"],
            help="Deployment frequency: successful completed production changes by actual end, per day of the period.",
        )
    with c[1]:
        kpi_tile(
            "Lead time for changes",
            dcur["lead_time_for_changes_median_hours"],
            kind="hours",
            evidence=f"median of {fmt(dcur['lead_time_for_changes_count'])} deployed changes",
            previous=get(dprev, "lead_time_for_changes_median_hours"),
            band=dcur["lead_time_for_changes_band"],
            help="Median opened → actual end of deployed changes.",
        )
    with c[2]:
        kpi_tile(
            "Change fail rate",
            dcur["change_fail_rate"],
            numerator=dcur["change_fail_numerator"],
            denominator=dcur["change_fail_denominator"],
            unit="production changes",
            previous=get(dprev, "change_fail_rate"),
            band=dcur["change_fail_rate_band"],
            help="Change fail rate (DORA): completed production changes with at least one counted P1-P3 incident / completed production changes.",
            # incident-based, like the incident-based fail rate: the same inputs decide its confidence
            low_confidence=lc("incident_based_fail_rate"),
        )
    with c[3]:
        kpi_tile(
            "Recovery time",
            dcur["failed_deployment_recovery_median_hours"],
            kind="hours",
            evidence=f"median of {fmt(dcur['recovered_failure_count'])} failed changes",
            previous=get(dprev, "failed_deployment_recovery_median_hours"),
            band=dcur["failed_deployment_recovery_time_band"],
            help="Failed change's actual end → resolution of the last incident it caused (or backout), median.",
        )
    with c[4]:
        kpi_tile(
            "Rework rate",
            dcur["rework_rate"],
            numerator=dcur["rework_numerator"],
            denominator=dcur["rework_denominator"],
            unit="production changes",
            previous=get(dprev, "rework_rate"),
            help="Changes raised to fix an incident another change caused / completed production changes.",
        )

st.subheader(f"Trends: last {f.trend_periods} {f.grain}s")
trend = data.change_kpis(
    grain=f.grain, dimension=dimension, value=value, start=f.trend_start, end=f.period_end
)
if trend.is_empty():
    empty_state(f"No changes in these {f.grain}s for {scope}.")
else:
    left, right = st.columns(2)
    with left:
        chart(
            charts.volume_bars(
                trend,
                x="period_start",
                series={"changes_opened": "Opened", "completed_count": "Completed"},
                title=f"Change volume per {f.grain}",
            ),
            key="ov_volume",
        )
    with right:
        chart(
            charts.rate_trend(
                trend,
                x="period_start",
                series={"change_success_rate": "Change success rate", "failed_rate": "Failed-change rate"},
                numerators={
                    "change_success_rate": ("change_success_numerator", "completed_count"),
                    "failed_rate": ("failed_count", "completed_count"),
                },
                target=charts.SUCCESS_RATE_TARGET,
                title=f"Change success and failure per {f.grain}",
                full_scale=True,
            ),
            key="ov_success",
        )
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
        chart(
            charts.rate_trend(
                trend,
                x="period_start",
                series={"emergency_ratio": "Emergency", "unauthorized_ratio": "Unauthorized"},
                numerators={
                    "emergency_ratio": ("emergency_count", "changes_opened"),
                    "unauthorized_ratio": ("unauthorized_count", "completed_count"),
                },
                title=f"Emergency and unauthorized ratios per {f.grain}",
            ),
            key="ov_policy",
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
rf = f.record_filters()
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
