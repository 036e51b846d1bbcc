{#- One row per (week_start W, KPI): the CAB KPI strip of a meeting held in the ISO week starting
    W - the 4 complete weeks before W against the 4 weeks before those - summed from
    rpt_change_kpis' weekly rows (dimension all). Rates are re-derived from the summed numerators
    and denominators, never averaged. Medians cannot be summed, so lead times are not in the strip.
    W runs from the week after the first week with data to var('kpi_strip_forward_weeks') (3)
    weeks after the later of as_of's week and the week after the last week with data; the default
    CAB meeting's week is always included. rpt_cab_kpi_strip is this model's rows for that week.
    Definition: models/docs.md (cab_kpi_strip). -#}
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
{%- set forward_weeks = var('kpi_strip_forward_weeks', 3) | int -%}
with

kpis as (

    select * from {{ ref('rpt_change_kpis') }}

),

weekly as (

    select kpis.*
    from kpis
    where kpis.period_grain = 'week'
        and kpis.dimension = 'all'

),

bounds as (

    select
        {{ dbt.dateadd('day', 7, 'min(weekly.period_start)') }} as first_week_start,
        {#- greatest() with a null argument is null on some engines (Trino, Hive; DuckDB and Spark
            skip it): the coalesce states the intent, as_of's week when there are no weekly rows -#}
        {%- set as_of_week = period_start("'week'", as_of_timestamp()) %}
        {{ dbt.dateadd('day', 7 * forward_weeks, 'greatest(' ~ as_of_week ~ ', coalesce(' ~ dbt.dateadd('day', 7, 'max(weekly.period_start)') ~ ', ' ~ as_of_week ~ '))') }}
            as last_week_start
    from weekly

),

week_spine as (

    {{ period_spine('week', '(select first_week_start from bounds)', '(select last_week_start from bounds)') }}
    union
    select {{ period_start("'week'", cab_meeting_timestamp()) }} as period_start

),

strip_weeks as (

    select
        cast(period_start as date) as week_start,
        cast({{ dbt.dateadd('day', -28, 'period_start') }} as date) as current_start,
        cast(period_start as date) as current_end,
        cast({{ dbt.dateadd('day', -56, 'period_start') }} as date) as previous_start,
        cast({{ dbt.dateadd('day', -28, 'period_start') }} as date) as previous_end
    from week_spine

),

sums as (

    select
        strip_weeks.week_start,
        strip_weeks.current_start,
        strip_weeks.current_end,
        strip_weeks.previous_start,
        strip_weeks.previous_end,
        {%- for kpi in kpis %}
        {%- for side in ['current', 'previous'] %}
        coalesce(sum(case when weekly.period_start >= strip_weeks.{{ side }}_start and weekly.period_start < strip_weeks.{{ side }}_end
            then weekly.{{ kpi[2] }} end), 0) as {{ kpi[0] }}_{{ side }}_numerator,
        {%- if kpi[3] %}
        coalesce(sum(case when weekly.period_start >= strip_weeks.{{ side }}_start and weekly.period_start < strip_weeks.{{ side }}_end
            then weekly.{{ kpi[3] }} end), 0) as {{ kpi[0] }}_{{ side }}_denominator,
        {%- endif %}
        {%- endfor %}
        {%- endfor %}
        count(weekly.period_start) as weekly_row_count
    from strip_weeks
    left join weekly
        on weekly.period_start >= strip_weeks.previous_start
        and weekly.period_start < strip_weeks.current_end
    group by 1, 2, 3, 4, 5

),

unpivoted as (

    {%- for kpi in kpis %}
    select
        week_start,
        '{{ kpi[0] }}' as kpi,
        '{{ kpi[1] }}' as kpi_label,
        {{ loop.index }} as kpi_order,
        '{{ 'rate' if kpi[3] else 'count' }}' as unit,
        '{{ kpi[4] }}' as better_direction,
        current_start as current_period_start,
        current_end as current_period_end,
        previous_start as previous_period_start,
        previous_end as previous_period_end,
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
