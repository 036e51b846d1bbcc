{#- One row per (period_grain, period_start): the change backlog as of each period's end (the
    next period's start, or "now" for the current period). Open changes by age bucket, overdue
    changes and those open more than 90 days count the rows of fct_backlog_snapshots, the records a
    click on their tiles lists (DECISIONLOG D51); the period's opened, closed and growth (opened -
    closed) count the rows of fct_backlog_movements. "In the backlog" is defined once, in
    int_change_backlog_lifetimes, which both marts read. -#}
with

periods as (

    select * from {{ ref('int_backlog_periods') }}

),

snapshots as (

    select * from {{ ref('fct_backlog_snapshots') }}

),

movements as (

    select * from {{ ref('fct_backlog_movements') }}

),

backlog as (

    select
        period_grain,
        period_start,
        count(*) as open_count,
        count(*) filter (where age_bucket = '0_1_days') as open_0_1_days_count,
        count(*) filter (where age_bucket = '2_5_days') as open_2_5_days_count,
        count(*) filter (where age_bucket = '6_30_days') as open_6_30_days_count,
        count(*) filter (where age_bucket = '31_90_days') as open_31_90_days_count,
        count(*) filter (where is_open_over_90_days) as open_over_90_days_count,
        count(*) filter (where is_overdue) as overdue_count
    from snapshots
    group by 1, 2

),

moved as (

    select
        period_grain,
        period_start,
        count(*) filter (where is_opened) as opened_count,
        count(*) filter (where is_left) as closed_count
    from movements
    group by 1, 2

),

final as (

    select
        periods.period_grain,
        periods.period_start,
        periods.period_end_at,
        periods.is_current_period,
        coalesce(backlog.open_count, 0) as open_count,
        coalesce(backlog.open_0_1_days_count, 0) as open_0_1_days_count,
        coalesce(backlog.open_2_5_days_count, 0) as open_2_5_days_count,
        coalesce(backlog.open_6_30_days_count, 0) as open_6_30_days_count,
        coalesce(backlog.open_31_90_days_count, 0) as open_31_90_days_count,
        coalesce(backlog.open_over_90_days_count, 0) as open_over_90_days_count,
        coalesce(backlog.overdue_count, 0) as overdue_count,
        coalesce(moved.opened_count, 0) as opened_count,
        coalesce(moved.closed_count, 0) as closed_count,
        coalesce(moved.opened_count, 0) - coalesce(moved.closed_count, 0) as backlog_growth
    from periods
    left join backlog
        on backlog.period_grain = periods.period_grain
        and backlog.period_start = periods.period_start
    left join moved
        on moved.period_grain = periods.period_grain
        and moved.period_start = periods.period_start

)

select * from final
