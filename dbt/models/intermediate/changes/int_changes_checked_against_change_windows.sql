{#- One row per open or in-progress change with a planned window: is it inside a blackout, and is
    it outside every maintenance window that applies to it? A maintenance window applies when it
    has no scope or its scope is a CI or service the change touches. A change whose CIs and
    services have no maintenance window at all is not flagged (no maintenance policy to break);
    otherwise it is flagged unless one applicable window contains its whole planned window.
    Only open / in-progress changes are checked, so the containment join stays bounded by the
    forward schedule, not by the history. -#}
with

changes as (

    select * from {{ ref('stg_canonical__changes') }}

),

change_cis as (

    select * from {{ ref('int_changes_joined_to_configuration_items') }}

),

change_services as (

    select * from {{ ref('int_changes_joined_to_services') }}

),

window_overlaps as (

    select * from {{ ref('int_changes_joined_to_change_windows') }}

),

windows as (

    select * from {{ ref('int_change_windows_resolved_to_scopes') }}

),

scheduled_changes as (

    select
        change_id,
        planned_start_at,
        planned_end_at
    from changes
    where state_category in ('open', 'in_progress')
        and planned_start_at is not null
        and planned_end_at is not null
        and planned_end_at >= planned_start_at

),

change_scopes as (

    select
        change_id,
        ci_id as scope_ci_id
    from change_cis
    where ci_id is not null
    union
    select
        change_id,
        service_id as scope_ci_id
    from change_services

),

maintenance_windows as (

    select *
    from windows
    where kind = 'maintenance'
        and scope_kind <> 'unresolved'

),

scoped_policies as (

    -- (change, maintenance window) for every window whose scope the change touches
    select
        scheduled_changes.change_id,
        scheduled_changes.planned_start_at,
        scheduled_changes.planned_end_at,
        maintenance_windows.name,
        maintenance_windows.start_at,
        maintenance_windows.end_at
    from scheduled_changes
    inner join change_scopes
        on change_scopes.change_id = scheduled_changes.change_id
    inner join maintenance_windows
        on maintenance_windows.scope_ci_id = change_scopes.scope_ci_id
    union all
    select
        scheduled_changes.change_id,
        scheduled_changes.planned_start_at,
        scheduled_changes.planned_end_at,
        maintenance_windows.name,
        maintenance_windows.start_at,
        maintenance_windows.end_at
    from scheduled_changes
    cross join maintenance_windows
    where maintenance_windows.scope_kind = 'all'

),

maintenance_checks as (

    select
        change_id,
        true as has_maintenance_policy,
        max(case when start_at <= planned_start_at and end_at >= planned_end_at then 1 else 0 end) = 1
            as is_inside_maintenance_window,
        min(case when start_at <= planned_start_at and end_at >= planned_end_at then name end)
            as maintenance_window_name
    from scoped_policies
    group by 1

),

blackouts as (

    select
        change_id,
        min(change_window_name) as blackout_window_name,
        count(*) as blackout_window_count
    from window_overlaps
    where kind = 'blackout'
    group by 1

),

checked as (

    select
        scheduled_changes.change_id,
        blackouts.change_id is not null as in_blackout,
        blackouts.blackout_window_name,
        coalesce(maintenance_checks.has_maintenance_policy, false) as has_maintenance_policy,
        coalesce(maintenance_checks.has_maintenance_policy and not maintenance_checks.is_inside_maintenance_window, false)
            as is_outside_maintenance_window,
        maintenance_checks.maintenance_window_name
    from scheduled_changes
    left join blackouts
        on blackouts.change_id = scheduled_changes.change_id
    left join maintenance_checks
        on maintenance_checks.change_id = scheduled_changes.change_id

)

select * from checked
