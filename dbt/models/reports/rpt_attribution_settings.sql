{#- One row per setting in force for this build (dbt vars and the seeds' policy values), so every
    page can say which setting produced a number. value is text; numeric_value is set where the
    setting is a number. The CAB rows (cab_meeting_at, cab_meeting_hour, cab_previous_meeting_days,
    forward_schedule_days, risk_evidence_days, kpi_strip_forward_weeks) with coverage_threshold,
    window_tolerance_minutes and as_of are the settings the CAB pack states; as_of and
    cab_meeting_at are the effective timestamps (text, UTC), not the raw vars. -#}
{%- set base = var('attribution_base_confidence') -%}
{%- set settings = [
    ['as_of', 'build', none, none, '"Now" for every age, window and schedule computation (var as_of, else the build time, UTC).', 'cast(' ~ as_of_timestamp() ~ ' as ' ~ dbt.type_string() ~ ')'],
    ['attribution_window_hours', 'attribution', var('attribution_window_hours'), var('attribution_window_hours'), 'Hours after a change\'s actual end (or during its implementation) within which an incident can be attributed to it.'],
    ['attribution_confidence_threshold', 'attribution', var('attribution_confidence_threshold'), var('attribution_confidence_threshold'), 'Lowest confidence at which an inferred candidate counts for the metrics (explicit causes always count).'],
    ['attribution_base_confidence.inferred_same_ci', 'attribution', base['inferred_same_ci'], base['inferred_same_ci'], 'Confidence of a same-CI candidate before the time decay.'],
    ['attribution_base_confidence.inferred_related_ci_1', 'attribution', base['inferred_related_ci_1'], base['inferred_related_ci_1'], 'Confidence of a candidate one CMDB relationship away, before the time decay.'],
    ['attribution_base_confidence.inferred_related_ci_2', 'attribution', base['inferred_related_ci_2'], base['inferred_related_ci_2'], 'Confidence of a candidate two CMDB relationships away, before the time decay.'],
    ['attribution_base_confidence.inferred_same_service', 'attribution', base['inferred_same_service'], base['inferred_same_service'], 'Confidence of a same-service candidate, before the time decay.'],
    ['attribution_time_decay', 'attribution', var('attribution_time_decay'), var('attribution_time_decay'), 'Share of the confidence lost at the far edge of the attribution window (linear).'],
    ['neighbour_hub_degree_limit', 'attribution', var('neighbour_hub_degree_limit'), var('neighbour_hub_degree_limit'), 'CIs with more relationships are not walked through for 2-hop neighbours.'],
    ['coverage_threshold', 'data_quality', var('coverage_threshold'), var('coverage_threshold'), 'A metric whose weakest input covers less than this share is low-confidence.'],
    ['window_tolerance_minutes', 'windows', var('window_tolerance_minutes'), var('window_tolerance_minutes'), 'Minutes an actual window may leave the planned window before it counts as outside.'],
    ['risk_evidence_days', 'cab', var('risk_evidence_days'), var('risk_evidence_days'), 'Days of history behind the CAB risk evidence.'],
    ['forward_schedule_days', 'cab', var('forward_schedule_days'), var('forward_schedule_days'), 'Days after the CAB meeting covered by the forward schedule.'],
    ['collision_max_changes_per_service_day', 'cab', var('collision_max_changes_per_service_day'), var('collision_max_changes_per_service_day'), 'A service with more scheduled changes on one UTC day is a catch-all that day: no same-service collisions are formed there (CI and relationship collisions still are).'],
    ['cab_meeting_at', 'cab', none, none, 'Time (UTC) of the CAB meeting rpt_cab_agenda and rpt_cab_kpi_strip are built for: var cab_meeting_at, else the next working day at cab_meeting_hour after as_of.', 'cast(' ~ cab_meeting_timestamp() ~ ' as ' ~ dbt.type_string() ~ ')'],
    ['cab_meeting_hour', 'cab', var('cab_meeting_hour', 10), var('cab_meeting_hour', 10), 'Hour of day (UTC) of the default CAB meeting (the next working day after as_of).'],
    ['cab_previous_meeting_days', 'cab', var('cab_previous_meeting_days', 7), var('cab_previous_meeting_days', 7), 'Days between CAB meetings (the previous meeting = T minus this).'],
    ['kpi_strip_forward_weeks', 'cab', var('kpi_strip_forward_weeks', 3), var('kpi_strip_forward_weeks', 3), 'Weeks of KPI strips (rpt_kpi_strip_weekly) published ahead of as_of\'s week.'],
    ['dora_band_set', 'dora', var('dora_band_set'), none, 'DORA performance band set (seeds/dora_performance_bands.csv).'],
] -%}
with

settings as (

    {%- for setting in settings %}
    select
        '{{ setting[0] }}' as setting,
        '{{ setting[1] }}' as setting_group,
        {% if setting | length > 5 %}{{ setting[5] }}{% else %}'{{ setting[2] }}'{% endif %} as value,
        {% if setting[3] is not none %}cast({{ setting[3] }} as double){% else %}cast(null as double){% endif %} as numeric_value,
        '{{ setting[4] | replace("'", "''") }}' as description
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

final as (

    select
        settings.*,
        {{ as_of_timestamp() }} as effective_as_of
    from settings

)

select * from final
