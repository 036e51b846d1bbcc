{#- One row per (period_grain, period_start): the change backlog as of each period's end (the
    next period's start, or "now" for the current period): open changes by age bucket, overdue changes
    and those open more than 90 days (the rows of fct_backlog_snapshots), the period's opened, closed
    and growth (opened - closed; the rows of fct_backlog_movements), summed over rpt_backlog_cells,
    whose cells a page with filters sums the same way; a period without a cell has zeros. The records
    a click on a tile lists are those marts' rows (DECISIONLOG D51). -#}
with

periods as (

    select * from {{ ref('int_backlog_periods') }}

),

cells as (

    select * from {{ ref('rpt_backlog_cells') }}

),

backlog as (

    select
        period_grain,
        period_start,
        cast(sum(open_count) as bigint) as open_count,
        cast(sum(open_0_1_days_count) as bigint) as open_0_1_days_count,
        cast(sum(open_2_5_days_count) as bigint) as open_2_5_days_count,
        cast(sum(open_6_30_days_count) as bigint) as open_6_30_days_count,
        cast(sum(open_31_90_days_count) as bigint) as open_31_90_days_count,
        cast(sum(open_over_90_days_count) as bigint) as open_over_90_days_count,
        cast(sum(overdue_count) as bigint) as overdue_count,
        cast(sum(opened_count) as bigint) as opened_count,
        cast(sum(closed_count) as bigint) as closed_count,
        cast(sum(backlog_growth) as bigint) as backlog_growth
    from cells
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
        coalesce(backlog.opened_count, 0) as opened_count,
        coalesce(backlog.closed_count, 0) as closed_count,
        coalesce(backlog.backlog_growth, 0) as backlog_growth
    from periods
    left join backlog
        on backlog.period_grain = periods.period_grain
        and backlog.period_start = periods.period_start

)

select * from final
