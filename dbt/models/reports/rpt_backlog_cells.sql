{#- One row per (period_grain, period_start, change_type, risk, service_name, assignment_group,
    source_system) with a change open at the period's end or entering or leaving the backlog in it:
    the backlog's additive counts at the grain of every sidebar filter at once. rpt_backlog sums them
    per period; a page with filters sums the cells its filters select (as rpt_change_outcome_cells,
    DECISIONLOG D45, D51). The counts count the rows of fct_backlog_snapshots and
    fct_backlog_movements, the records their tiles open. A missing value is '(none)'. -#}
{%- set dimensions = ['change_type', 'risk', 'service_name', 'assignment_group', 'source_system'] -%}
with

snapshots as (

    select
        period_grain,
        period_start,
        {%- for dimension in dimensions %}
        coalesce({{ dimension }}, '(none)') as {{ dimension }},
        {%- endfor %}
        count(*) as open_count,
        count(*) filter (where age_bucket = '0_1_days') as open_0_1_days_count,
        count(*) filter (where age_bucket = '2_5_days') as open_2_5_days_count,
        count(*) filter (where age_bucket = '6_30_days') as open_6_30_days_count,
        count(*) filter (where age_bucket = '31_90_days') as open_31_90_days_count,
        count(*) filter (where is_open_over_90_days) as open_over_90_days_count,
        count(*) filter (where is_overdue) as overdue_count
    from {{ ref('fct_backlog_snapshots') }}
    group by {% for i in range(dimensions | length + 2) %}{{ i + 1 }}{{ ', ' if not loop.last }}{% endfor %}

),

movements as (

    select
        period_grain,
        period_start,
        {%- for dimension in dimensions %}
        coalesce({{ dimension }}, '(none)') as {{ dimension }},
        {%- endfor %}
        count(*) filter (where is_opened) as opened_count,
        count(*) filter (where is_left) as closed_count
    from {{ ref('fct_backlog_movements') }}
    group by {% for i in range(dimensions | length + 2) %}{{ i + 1 }}{{ ', ' if not loop.last }}{% endfor %}

),

final as (

    select
        coalesce(snapshots.period_grain, movements.period_grain) as period_grain,
        coalesce(snapshots.period_start, movements.period_start) as period_start,
        {%- for dimension in dimensions %}
        coalesce(snapshots.{{ dimension }}, movements.{{ dimension }}) as {{ dimension }},
        {%- endfor %}
        coalesce(snapshots.open_count, 0) as open_count,
        coalesce(snapshots.open_0_1_days_count, 0) as open_0_1_days_count,
        coalesce(snapshots.open_2_5_days_count, 0) as open_2_5_days_count,
        coalesce(snapshots.open_6_30_days_count, 0) as open_6_30_days_count,
        coalesce(snapshots.open_31_90_days_count, 0) as open_31_90_days_count,
        coalesce(snapshots.open_over_90_days_count, 0) as open_over_90_days_count,
        coalesce(snapshots.overdue_count, 0) as overdue_count,
        coalesce(movements.opened_count, 0) as opened_count,
        coalesce(movements.closed_count, 0) as closed_count,
        coalesce(movements.opened_count, 0) - coalesce(movements.closed_count, 0) as backlog_growth
    from snapshots
    full outer join movements
        on movements.period_grain = snapshots.period_grain
        and movements.period_start = snapshots.period_start
        {%- for dimension in dimensions %}
        and movements.{{ dimension }} = snapshots.{{ dimension }}
        {%- endfor %}

)

select * from final
