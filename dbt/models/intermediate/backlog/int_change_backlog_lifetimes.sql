{#- One row per change opened by as_of: when it entered the backlog (opened_at) and when it left it
    (closed_at; for a closed or canceled change without closed_at, its actual end, else its last
    update, else its opening; null while it is open). The one definition of "in the backlog" that
    fct_backlog_snapshots and rpt_backlog read. -#}
with

changes as (

    select * from {{ ref('fct_changes') }}

),

now_at as (

    select {{ as_of_timestamp() }} as as_of

),

lifetimes as (

    select
        changes.change_id,
        changes.opened_at,
        coalesce(
            changes.closed_at,
            case when changes.state_category in ('closed', 'canceled')
                then coalesce(changes.actual_end_at, changes.updated_at, changes.opened_at) end
        ) as left_backlog_at
    from changes
    cross join now_at
    where changes.opened_at is not null
        and changes.opened_at <= now_at.as_of

)

select * from lifetimes
