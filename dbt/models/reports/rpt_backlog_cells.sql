{#- One row per (period_grain, period_start, change_type, risk, service_name, assignment_group,
    source_system) with a change open at the period's end or entering or leaving the backlog in it:
    the backlog's additive counts at the grain of every sidebar filter at once. rpt_backlog sums them
    per period; a page with filters sums the cells its filters select (as rpt_change_outcome_cells,
    DECISIONLOG D45, D51). The counts count the rows of fct_backlog_snapshots and
    fct_backlog_movements, the records their tiles open. A missing value is '(none)'. -#}
{%- set dimensions = ['change_type', 'risk', 'service_name', 'assignment_group', 'source_system'] -%}
with

records as (

    {#- both marts' rows in one stream, aggregated once (a full outer join of two aggregates on seven
        keys took twice as long) -#}
    select
        period_grain,
        period_start,
        {%- for dimension in dimensions %}
        {{ dimension }},
        {%- endfor %}
        true as is_open,
        age_bucket,
        is_open_over_90_days,
        is_overdue,
        false as is_opened,
        false as is_left
    from {{ ref('fct_backlog_snapshots') }}
    union all
    select
        period_grain,
        period_start,
        {%- for dimension in dimensions %}
        {{ dimension }},
        {%- endfor %}
        false as is_open,
        cast(null as {{ dbt.type_string() }}) as age_bucket,
        false as is_open_over_90_days,
        false as is_overdue,
        is_opened,
        is_left
    from {{ ref('fct_backlog_movements') }}

),

cells as (

    select
        period_grain,
        period_start,
        {%- for dimension in dimensions %}
        coalesce({{ dimension }}, '(none)') as {{ dimension }},
        {%- endfor %}
        count(*) filter (where is_open) as open_count,
        count(*) filter (where age_bucket = '0_1_days') as open_0_1_days_count,
        count(*) filter (where age_bucket = '2_5_days') as open_2_5_days_count,
        count(*) filter (where age_bucket = '6_30_days') as open_6_30_days_count,
        count(*) filter (where age_bucket = '31_90_days') as open_31_90_days_count,
        count(*) filter (where is_open_over_90_days) as open_over_90_days_count,
        count(*) filter (where is_overdue) as overdue_count,
        count(*) filter (where is_opened) as opened_count,
        count(*) filter (where is_left) as closed_count,
        count(*) filter (where is_opened) - count(*) filter (where is_left) as backlog_growth
    from records
    group by {% for i in range(dimensions | length + 2) %}{{ i + 1 }}{{ ', ' if not loop.last }}{% endfor %}

)

select * from cells
