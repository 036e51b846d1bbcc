{#- One row per delivered change that ended (actual_end_at) on a production CI, or on a CI whose
    environment is unknown: the change requests DORA's keys count (rpt_dora), with the flags and
    durations each key reads, so that a key's records are the rows of this model whose declared
    flags are true (rpt_metric_definitions, DECISIONLOG D46, D48). Recovery: a failed change's
    actual end -> the resolution of the last incident it caused; a backed-out change without a
    resolved caused incident recovered when its work ended (0 h). Rework: a change raised to fix an
    incident another change caused, or an emergency change raised on the same primary CI within the
    attribution window after a failed change ended. -#}
with

changes as (

    select * from {{ ref('fct_changes') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

configuration_items as (

    select * from {{ ref('dim_configuration_items') }}

),

production_changes as (

    select changes.*
    from changes
    left join configuration_items
        on configuration_items.ci_id = changes.primary_ci_id
    where changes.is_delivered
        and changes.actual_end_at is not null
        and coalesce(configuration_items.environment, 'production') in ('production', 'prod')

),

recoveries as (

    select
        production_changes.change_id,
        case
            when max(incidents.resolved_at) is not null
                then greatest({{ hours_between('production_changes.actual_end_at', 'max(incidents.resolved_at)') }}, 0)
            when production_changes.is_backed_out then 0.0
        end as recovery_hours
    from production_changes
    left join incidents
        on incidents.primary_cause_change_id = production_changes.change_id
    where production_changes.is_completed
        and production_changes.is_failed
    group by production_changes.change_id, production_changes.actual_end_at, production_changes.is_backed_out

),

failed_changes as (

    select
        change_id,
        primary_ci_id,
        actual_end_at
    from changes
    where is_failed
        and primary_ci_id is not null
        and actual_end_at is not null

),

emergency_changes as (

    select
        change_id,
        primary_ci_id,
        opened_at
    from changes
    where is_emergency
        and primary_ci_id is not null
        and opened_at is not null

),

rework_changes as (

    -- changes raised to fix an incident whose primary cause is another change
    select incidents.fixed_by_change_id as change_id
    from incidents
    where incidents.fixed_by_change_id is not null
        and incidents.primary_cause_change_id is not null
        and incidents.primary_cause_change_id <> incidents.fixed_by_change_id
    union
    -- emergency changes raised on the same primary CI within the attribution window after a
    -- failed change ended
    select emergency_changes.change_id
    from emergency_changes
    inner join failed_changes
        on failed_changes.primary_ci_id = emergency_changes.primary_ci_id
        and failed_changes.change_id <> emergency_changes.change_id
        and emergency_changes.opened_at >= failed_changes.actual_end_at
        and emergency_changes.opened_at <= {{ dbt.dateadd('hour', var('attribution_window_hours'), 'failed_changes.actual_end_at') }}

),

final as (

    select
        -- ids
        production_changes.change_id,
        production_changes.source_system,
        production_changes.number,
        -- strings
        production_changes.title,
        production_changes.change_type,
        production_changes.risk,
        production_changes.state,
        production_changes.outcome,
        production_changes.service_name,
        production_changes.assignment_group,
        production_changes.primary_ci_name,
        production_changes.release_id,
        -- numerics
        production_changes.lead_time_to_production_hours,
        recoveries.recovery_hours as failed_deployment_recovery_hours,
        production_changes.caused_incident_count,
        -- booleans
        production_changes.is_completed,
        production_changes.is_successful,
        production_changes.is_backed_out,
        production_changes.is_failed_incident,
        production_changes.is_failed,
        rework_changes.change_id is not null as is_rework,
        recoveries.recovery_hours is not null as has_recovery_time,
        -- timestamps
        production_changes.opened_at,
        production_changes.actual_start_at,
        production_changes.actual_end_at,
        production_changes.closed_at
    from production_changes
    left join recoveries
        on recoveries.change_id = production_changes.change_id
    left join rework_changes
        on rework_changes.change_id = production_changes.change_id

)

select * from final
