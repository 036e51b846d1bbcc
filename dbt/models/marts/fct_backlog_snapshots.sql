{#- One row per change and backlog period it was open at the end of: the records behind rpt_backlog's
    open, overdue and over-90-days counts (a click on those tiles lists these rows; DECISIONLOG D51).
    Open at period_end_at = opened before it and not yet out of the backlog
    (int_change_backlog_lifetimes). Age in whole days since opened_at; overdue = planned start before
    the period end and no actual start by then. The join of changes to period ends is a pure
    inequality (interval) join against a small spine, which DuckDB runs as an IEJoin; its output is
    the sum of the changes' lifetimes in periods. -#}
{%- set far_future = "cast('9999-12-31 00:00:00' as timestamp)" -%}
with

periods as (

    select * from {{ ref('int_backlog_periods') }}

),

lifetimes as (

    select * from {{ ref('int_change_backlog_lifetimes') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

open_at_end as (

    select
        periods.period_grain,
        periods.period_start,
        periods.period_end_at,
        periods.is_current_period,
        lifetimes.change_id,
        cast(floor({{ hours_between('lifetimes.opened_at', 'periods.period_end_at') }} / 24) as bigint) as age_days
    from periods
    inner join lifetimes
        on lifetimes.opened_at < periods.period_end_at
        and coalesce(lifetimes.left_backlog_at, {{ far_future }}) > periods.period_end_at

),

final as (

    select
        open_at_end.period_grain,
        open_at_end.period_start,
        open_at_end.period_end_at,
        open_at_end.is_current_period,
        open_at_end.change_id,
        changes.source_system,
        changes.number,
        changes.title,
        changes.change_type,
        changes.risk,
        changes.state,
        changes.service_name,
        changes.assignment_group,
        changes.primary_ci_name,
        changes.opened_at,
        changes.planned_start_at,
        changes.planned_end_at,
        changes.actual_start_at,
        open_at_end.age_days,
        case
            when open_at_end.age_days <= 1 then '0_1_days'
            when open_at_end.age_days <= 5 then '2_5_days'
            when open_at_end.age_days <= 30 then '6_30_days'
            when open_at_end.age_days <= 90 then '31_90_days'
            else 'over_90_days'
        end as age_bucket,
        open_at_end.age_days > 90 as is_open_over_90_days,
        coalesce(
            changes.planned_start_at < open_at_end.period_end_at
            and coalesce(changes.actual_start_at, {{ far_future }}) >= open_at_end.period_end_at,
            false
        ) as is_overdue
    from open_at_end
    inner join changes
        on changes.change_id = open_at_end.change_id

),

with_days_overdue as (

    select
        final.*,
        case when final.is_overdue
            then cast(floor({{ hours_between('final.planned_start_at', 'final.period_end_at') }} / 24) as bigint)
        end as days_overdue
    from final

)

select * from with_days_overdue
