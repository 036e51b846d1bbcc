{#- One row per KPI for the CAB meeting at T (macro cab_meeting_timestamp): the last 4 complete
    ISO weeks before T's week against the 4 weeks before those, summed from rpt_change_kpis'
    weekly rows (dimension all). Rates are re-derived from the summed numerators and
    denominators, never averaged. Medians cannot be summed, so lead times are not in the strip. -#}
{%- set kpis = [
    ['changes_opened', 'Changes opened', 'changes_opened', none, 'neutral'],
    ['completed_changes', 'Completed changes', 'completed_count', none, 'neutral'],
    ['change_success_rate', 'Change success rate', 'change_success_numerator', 'completed_count', 'higher'],
    ['failed_change_rate', 'Failed change rate', 'failed_count', 'completed_count', 'lower'],
    ['unsuccessful_rate', 'Unsuccessful rate (ITIL)', 'unsuccessful_count', 'completed_count', 'lower'],
    ['incident_based_fail_rate', 'Change fail rate (incident-based)', 'incident_failed_count', 'deployed_completed_count', 'lower'],
    ['emergency_change_ratio', 'Emergency change ratio', 'emergency_count', 'changes_opened', 'lower'],
    ['unauthorized_change_ratio', 'Unauthorized change ratio', 'unauthorized_count', 'completed_count', 'lower'],
    ['outside_window_ratio', 'Outside-window ratio', 'outside_window_count', 'window_checked_count', 'lower'],
    ['backout_rate', 'Backout rate', 'backed_out_count', 'completed_count', 'lower'],
    ['change_caused_incidents', 'Incidents caused by changes', 'change_caused_incident_count', none, 'lower'],
] -%}
with

kpis as (

    select * from {{ ref('rpt_change_kpis') }}

),

meeting as (

    select
        {{ cab_meeting_timestamp() }} as cab_meeting_at,
        {{ period_start("'week'", cab_meeting_timestamp()) }} as meeting_week_start

),

bounds as (

    select
        cab_meeting_at,
        {{ dbt.dateadd('day', -28, 'meeting_week_start') }} as current_start,
        meeting_week_start as current_end,
        {{ dbt.dateadd('day', -56, 'meeting_week_start') }} as previous_start,
        {{ dbt.dateadd('day', -28, 'meeting_week_start') }} as previous_end
    from meeting

),

weekly as (

    select kpis.*
    from kpis
    where kpis.period_grain = 'week'
        and kpis.dimension = 'all'

),

sums as (

    select
        {%- for kpi in kpis %}
        {%- for side in ['current', 'previous'] %}
        coalesce(sum(case when weekly.period_start >= bounds.{{ side }}_start and weekly.period_start < bounds.{{ side }}_end
            then weekly.{{ kpi[2] }} end), 0) as {{ kpi[0] }}_{{ side }}_numerator,
        {%- if kpi[3] %}
        coalesce(sum(case when weekly.period_start >= bounds.{{ side }}_start and weekly.period_start < bounds.{{ side }}_end
            then weekly.{{ kpi[3] }} end), 0) as {{ kpi[0] }}_{{ side }}_denominator,
        {%- endif %}
        {%- endfor %}
        {%- endfor %}
        max(bounds.cab_meeting_at) as cab_meeting_at,
        max(bounds.current_start) as current_start,
        max(bounds.current_end) as current_end,
        max(bounds.previous_start) as previous_start,
        max(bounds.previous_end) as previous_end
    from bounds
    left join weekly
        on weekly.period_start >= bounds.previous_start
        and weekly.period_start < bounds.current_end

),

unpivoted as (

    {%- for kpi in kpis %}
    select
        '{{ kpi[0] }}' as kpi,
        '{{ kpi[1] }}' as kpi_label,
        {{ loop.index }} as kpi_order,
        '{{ 'rate' if kpi[3] else 'count' }}' as unit,
        '{{ kpi[4] }}' as better_direction,
        cab_meeting_at,
        cast(current_start as date) as current_period_start,
        cast(current_end as date) as current_period_end,
        cast(previous_start as date) as previous_period_start,
        cast(previous_end as date) as previous_period_end,
        cast({{ kpi[0] }}_current_numerator as bigint) as current_numerator,
        {% if kpi[3] %}cast({{ kpi[0] }}_current_denominator as bigint){% else %}cast(null as bigint){% endif %} as current_denominator,
        {% if kpi[3] %}{{ safe_rate(kpi[0] ~ '_current_numerator', kpi[0] ~ '_current_denominator') }}{% else %}cast({{ kpi[0] }}_current_numerator as double){% endif %} as current_value,
        cast({{ kpi[0] }}_previous_numerator as bigint) as previous_numerator,
        {% if kpi[3] %}cast({{ kpi[0] }}_previous_denominator as bigint){% else %}cast(null as bigint){% endif %} as previous_denominator,
        {% if kpi[3] %}{{ safe_rate(kpi[0] ~ '_previous_numerator', kpi[0] ~ '_previous_denominator') }}{% else %}cast({{ kpi[0] }}_previous_numerator as double){% endif %} as previous_value
    from sums
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

final as (

    select
        unpivoted.*,
        current_value - previous_value as value_change
    from unpivoted

)

select * from final
