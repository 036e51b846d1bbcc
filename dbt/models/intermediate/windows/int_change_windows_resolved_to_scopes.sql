{#- One row per blackout / maintenance window with its scope resolved: a null scope applies to
    every CI (scope_kind all); else the scope name resolves (case-insensitively, any source
    system) to a business service (scope_kind service) or another CI (scope_kind ci). A name the
    CMDB does not know keeps scope_kind unresolved and applies to nothing. -#}
with

change_windows as (

    select * from {{ ref('stg_canonical__change_windows') }}

),

names as (

    select * from {{ ref('int_configuration_item_names_resolved') }}

),

resolved as (

    select
        change_windows.change_window_id,
        change_windows.source_system,
        change_windows.kind,
        change_windows.name,
        change_windows.scope_ref,
        names.ci_id as scope_ci_id,
        names.ci_name as scope_ci_name,
        case
            when change_windows.scope_ref is null then 'all'
            when names.ci_id is null then 'unresolved'
            when names.is_service then 'service'
            else 'ci'
        end as scope_kind,
        change_windows.start_at,
        change_windows.end_at
    from change_windows
    left join names
        on names.name_key = lower(change_windows.scope_ref)

)

select * from resolved
