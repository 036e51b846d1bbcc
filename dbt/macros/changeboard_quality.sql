{#- The inputs of every metric that carries a confidence (rpt_data_quality's metric_confidence rows):
    metric -> the data-quality fields it needs. Metric names are rpt_change_kpis' column names (what
    the app looks up), plus the docs/metrics.md names where they differ (failed_change_rate,
    incident_based_fail_rate). One declaration: rpt_data_quality computes from it, and the
    metric-definitions test checks every declared confidence metric against it. -#}
{% macro metric_confidence_inputs() %}
{%- set outcome_inputs = ['change_close_code'] -%}
{%- set failure_inputs = ['change_close_code', 'change_ci', 'incident_ci'] -%}
{%- set incident_failure_inputs = ['change_ci', 'change_actual_window', 'incident_ci'] -%}
{{ return({
    'change_success_rate': outcome_inputs,
    'clean_success_rate': outcome_inputs,
    'unsuccessful_rate': outcome_inputs,
    'backout_rate': outcome_inputs,
    'failed_rate': failure_inputs,
    'failed_change_rate': failure_inputs,
    'incident_fail_rate': incident_failure_inputs,
    'incident_based_fail_rate': incident_failure_inputs,
    'change_caused_incidents': ['change_ci', 'incident_ci'],
    'change_caused_outage_hours': ['change_ci', 'incident_ci', 'incident_non_negative_durations'],
    'lead_time_to_production': ['change_lead_time_to_production'],
    'request_lead_time': ['change_request_lead_time'],
    'approval_time': ['change_approval_time'],
    'unauthorized_ratio': ['change_approval_time'],
    'outside_window_ratio': ['change_both_windows'],
    'release_lead_time': ['release_lead_time'],
    'release_failure_rate': ['change_ci', 'incident_ci'],
}) }}
{% endmacro %}
