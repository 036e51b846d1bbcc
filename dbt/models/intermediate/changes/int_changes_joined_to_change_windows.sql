{#- One row per (change, change window) whose windows overlap: the change's planned window
    [planned_start_at, planned_end_at] overlaps a blackout or maintenance window that applies to
    everything (no scope), to a CI the change touches, or to a service it touches. -#}
with

changes as (

    select * from {{ ref('stg_canonical__changes') }}

),

change_windows as (

    select * from {{ ref('stg_canonical__change_windows') }}

),

names as (

    select * from {{ ref('int_configuration_item_names_resolved') }}

),

change_cis as (

    select * from {{ ref('int_changes_joined_to_configuration_items') }}

),

change_services as (

    select * from {{ ref('int_changes_joined_to_services') }}

),

planned_changes as (

    select
        change_id,
        planned_start_at,
        planned_end_at
    from changes
    where planned_start_at is not null
        and planned_end_at is not null
        and planned_end_at >= planned_start_at

),

global_windows as (

    select *
    from change_windows
    where scope_ref is null

),

scoped_windows as (

    select
        change_windows.*,
        names.ci_id as scope_ci_id
    from change_windows
    inner join names
        on names.name_key = lower(change_windows.scope_ref)

),

window_scopes as (

    -- Only the CIs and services some window is scoped to: the distinct (change, scope) pairs are
    -- formed from those few instead of from every CI touch of every change (millions at 1M changes).
    select distinct scope_ci_id
    from scoped_windows

),

change_scopes as (

    select distinct
        change_cis.change_id,
        change_cis.ci_id as scope_ci_id
    from change_cis
    inner join window_scopes
        on change_cis.ci_id = window_scopes.scope_ci_id
    union
    select
        change_services.change_id,
        change_services.service_id as scope_ci_id
    from change_services
    inner join window_scopes
        on change_services.service_id = window_scopes.scope_ci_id

),

global_overlaps as (

    select
        planned_changes.change_id,
        global_windows.change_window_id,
        global_windows.kind,
        global_windows.name as change_window_name,
        'all' as scope
    from planned_changes
    inner join global_windows
        on planned_changes.planned_start_at < global_windows.end_at
        and planned_changes.planned_end_at > global_windows.start_at

),

planned_scopes as {{ cte_materialization(true) }} (

    -- each (change, scope) pair with the change's planned window, before the windows are met: joined
    -- the other way round, every window on a busy CI met every change on it first (35M rows at 1M
    -- changes, 40 s) and only then the changes' planned windows (this way: 0.85M rows, 5 s)
    select
        change_scopes.change_id,
        change_scopes.scope_ci_id,
        planned_changes.planned_start_at,
        planned_changes.planned_end_at
    from change_scopes
    inner join planned_changes
        on planned_changes.change_id = change_scopes.change_id

),

scoped_overlaps as (

    select distinct
        planned_scopes.change_id,
        scoped_windows.change_window_id,
        scoped_windows.kind,
        scoped_windows.name as change_window_name,
        scoped_windows.scope_ref as scope
    from planned_scopes
    inner join scoped_windows
        on scoped_windows.scope_ci_id = planned_scopes.scope_ci_id
        and planned_scopes.planned_start_at < scoped_windows.end_at
        and planned_scopes.planned_end_at > scoped_windows.start_at

),

unioned as (

    select * from global_overlaps
    union all
    select * from scoped_overlaps

)

select * from unioned
