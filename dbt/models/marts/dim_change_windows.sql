{#- One row per blackout (freeze) or maintenance window, with its scope resolved to a CI or
    business service. -#}
with

windows as (

    select * from {{ ref('int_change_windows_resolved_to_scopes') }}

),

final as (

    select
        change_window_id,
        source_system,
        kind,
        name,
        scope_ref,
        scope_kind,
        scope_ci_id,
        scope_ci_name,
        start_at,
        end_at,
        {{ hours_between('start_at', 'end_at') }} as duration_hours
    from windows

)

select * from final
