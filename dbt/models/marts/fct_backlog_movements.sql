{#- One row per change and backlog period in which it entered the backlog (opened) or left it
    (closed or canceled, up to the period's snapshot time): the records behind rpt_backlog's opened,
    closed and growth counts, which count these rows (DECISIONLOG D51). A change opened and closed in
    one period has a row of each. -#}
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

opened as (

    select
        periods.period_grain,
        periods.period_start,
        lifetimes.change_id,
        'opened' as movement,
        lifetimes.opened_at as moved_at
    from periods
    inner join lifetimes
        on lifetimes.opened_at >= cast(periods.period_start as timestamp)
        and lifetimes.opened_at < periods.next_period_start_at

),

left_backlog as (

    select
        periods.period_grain,
        periods.period_start,
        lifetimes.change_id,
        'left' as movement,
        lifetimes.left_backlog_at as moved_at
    from periods
    inner join lifetimes
        on lifetimes.left_backlog_at >= cast(periods.period_start as timestamp)
        and lifetimes.left_backlog_at < periods.period_end_at

),

movements as (

    select * from opened
    union all
    select * from left_backlog

),

final as (

    select
        movements.period_grain,
        movements.period_start,
        movements.change_id,
        movements.movement,
        movements.moved_at,
        movements.movement = 'opened' as is_opened,
        movements.movement = 'left' as is_left,
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
        changes.closed_at
    from movements
    inner join changes
        on changes.change_id = movements.change_id

)

select * from final
