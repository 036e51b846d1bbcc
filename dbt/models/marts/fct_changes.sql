{#- One row per change request, with its resolved CI / service / release, durations, policy
    flags and the incidents attributed to it. Metric definitions: models/docs.md. -#}
{%- set tolerance = var('window_tolerance_minutes') -%}
with

changes as (

    select * from {{ ref('stg_canonical__changes') }}

),

approvals as (

    select * from {{ ref('stg_canonical__approvals') }}

),

change_cis as (

    select * from {{ ref('int_changes_joined_to_configuration_items') }}

),

change_services as (

    select * from {{ ref('int_changes_joined_to_services') }}

),

ci_keys as (

    select * from {{ ref('int_configuration_item_keys') }}

),

change_releases as (

    select * from {{ ref('int_changes_joined_to_releases') }}

),

change_windows as (

    select * from {{ ref('int_changes_joined_to_change_windows') }}

),

window_checks as (

    select * from {{ ref('int_changes_checked_against_change_windows') }}

),

attributions as (

    select * from {{ ref('int_incidents_attributed_to_changes') }}

),

incidents as (

    select * from {{ ref('stg_canonical__incidents') }}

),

approval_decisions as (

    select
        change_id,
        max(decided_at) filter (where approval_status = 'approved') as last_approved_at,
        bool_or(approval_status = 'rejected') as has_rejection
    from approvals
    group by 1

),

primary_cis_ranked as (

    select
        change_id,
        ci_id as primary_ci_id,
        ci_name as primary_ci_name,
        row_number() over (partition by change_id order by ci_id) as primary_ci_rank
    from change_cis
    where role = 'primary' and ci_id is not null

),

primary_cis as (

    select
        change_id,
        primary_ci_id,
        primary_ci_name
    from primary_cis_ranked
    where primary_ci_rank = 1

),

primary_services as (

    select
        change_id,
        service_id,
        service_name
    from change_services
    where is_primary_service

),

blackouts as (

    select
        change_id,
        true as in_blackout
    from change_windows
    where kind = 'blackout'
    group by 1

),

caused as (

    -- incidents whose primary (counted) cause is the change: each incident counts once
    select
        attributions.change_id,
        count(*) as caused_incident_count,
        count(*) filter (where incidents.priority = 1) as caused_p1_count,
        count(*) filter (where incidents.priority = 2) as caused_p2_count,
        count(*) filter (where incidents.priority = 3) as caused_p3_count
    from attributions
    inner join incidents
        on incidents.incident_id = attributions.incident_id
    where attributions.is_primary
    group by 1

),

joined as (

    select
        changes.*,
        coalesce(changes.approved_at, approval_decisions.last_approved_at) as resolved_approved_at,
        coalesce(approval_decisions.has_rejection, false) as has_rejection,
        primary_cis.primary_ci_id,
        ci_keys.ci_key as primary_ci_key,
        primary_cis.primary_ci_name,
        primary_services.service_id,
        primary_services.service_name,
        change_releases.release_id,
        coalesce(blackouts.in_blackout, false) as in_blackout,
        window_checks.is_outside_maintenance_window as checked_outside_maintenance_window,
        coalesce(caused.caused_incident_count, 0) as caused_incident_count,
        coalesce(caused.caused_p1_count, 0) as caused_p1_count,
        coalesce(caused.caused_p2_count, 0) as caused_p2_count,
        coalesce(caused.caused_p3_count, 0) as caused_p3_count
    from changes
    left join approval_decisions
        on approval_decisions.change_id = changes.change_id
    left join primary_cis
        on primary_cis.change_id = changes.change_id
    left join ci_keys
        on ci_keys.ci_id = primary_cis.primary_ci_id
    left join primary_services
        on primary_services.change_id = changes.change_id
    left join change_releases
        on change_releases.change_id = changes.change_id
    left join blackouts
        on blackouts.change_id = changes.change_id
    left join window_checks
        on window_checks.change_id = changes.change_id
    left join caused
        on caused.change_id = changes.change_id

),

durations as (

    select
        *,
        {{ hours_between('opened_at', 'closed_at') }} as raw_request_lead_time_hours,
        {{ hours_between('opened_at', 'resolved_approved_at') }} as raw_approval_time_hours,
        {{ hours_between('resolved_approved_at', 'actual_start_at') }} as raw_queue_time_hours,
        {{ hours_between('actual_start_at', 'actual_end_at') }} as raw_implementation_hours,
        {{ hours_between('opened_at', 'actual_end_at') }} as raw_lead_time_to_production_hours
    from joined

),

flagged as (

    select
        *,
        state_category = 'closed'
            and coalesce(outcome in ('successful', 'successful_with_issues', 'unsuccessful'), false) as flag_completed,
        -- lead times need dates, not outcomes: every closed change that was not canceled
        state_category = 'closed' and coalesce(outcome, 'unknown') <> 'canceled' as flag_delivered,
        -- the success predicate, spelled out here only: every rollup counts is_successful
        state_category = 'closed'
            and coalesce(outcome in ('successful', 'successful_with_issues'), false) as flag_successful,
        coalesce(change_type = 'emergency', false) as flag_emergency,
        coalesce(change_type = 'standard', false) as flag_standard,
        case
            when is_flagged_unauthorized then 'flagged_unauthorized'
            when actual_start_at is not null and resolved_approved_at is not null
                and actual_start_at < resolved_approved_at then 'implemented_before_approval'
            when actual_start_at is not null and resolved_approved_at is null
                and coalesce(approval_status, '') <> 'approved'
                and (change_type in ('normal', 'emergency') or coalesce(is_cab_required, false))
                then 'implemented_without_required_approval'
        end as unauthorized_reason,
        case
            when actual_start_at is null or actual_end_at is null
                or planned_start_at is null or planned_end_at is null then null
            else actual_start_at < {{ dbt.dateadd('minute', -1 * tolerance, 'planned_start_at') }}
                or actual_end_at > {{ dbt.dateadd('minute', tolerance, 'planned_end_at') }}
        end as flag_outside_window,
        caused_p1_count + caused_p2_count + caused_p3_count > 0 as flag_caused_incident
    from durations

),

final as (

    select
        change_id,
        source_system,
        number,
        source_id,
        title,
        change_type,
        risk,
        priority,
        state,
        state_category,
        outcome,
        is_backed_out,
        assignment_group,
        assigned_to,
        requested_by,
        primary_ci_id,
        primary_ci_key,
        primary_ci_name,
        service_id,
        service_name,
        release_id,
        origin,
        opened_at,
        resolved_approved_at as approved_at,
        planned_start_at,
        planned_end_at,
        actual_start_at,
        actual_end_at,
        closed_at,
        updated_at,
        case when raw_request_lead_time_hours >= 0 then raw_request_lead_time_hours end as request_lead_time_hours,
        case when raw_approval_time_hours >= 0 then raw_approval_time_hours end as approval_time_hours,
        case when raw_queue_time_hours >= 0 then raw_queue_time_hours end as queue_time_hours,
        case when raw_implementation_hours >= 0 then raw_implementation_hours end as implementation_hours,
        case when raw_lead_time_to_production_hours >= 0 then raw_lead_time_to_production_hours end
            as lead_time_to_production_hours,
        {{ hours_between('planned_start_at', 'actual_start_at') }} * 60 as start_variance_minutes,
        {{ hours_between('planned_end_at', 'actual_end_at') }} * 60 as end_variance_minutes,
        flag_emergency as is_emergency,
        flag_standard as is_standard,
        flag_completed as is_completed,
        coalesce(flag_delivered, false) as is_delivered,
        unauthorized_reason is not null as is_unauthorized,
        unauthorized_reason,
        flag_outside_window as is_outside_window,
        -- the outside-window ratio's population: changes with both a planned and an actual window
        flag_outside_window is not null as is_window_checked,
        caused_incident_count,
        caused_p1_count,
        caused_p2_count,
        caused_p3_count,
        flag_caused_incident as has_caused_incident,
        flag_successful as is_successful,
        -- the clean-success predicate, spelled out here only: completed with outcome successful (not
        -- with issues); the clean success rate and the success score count is_clean_success
        flag_completed and coalesce(outcome = 'successful', false) as is_clean_success,
        coalesce(outcome = 'unsuccessful', false) as is_failed_itil,
        flag_caused_incident as is_failed_incident,
        coalesce(outcome = 'unsuccessful', false) or flag_caused_incident as is_failed,
        coalesce(
            raw_request_lead_time_hours < 0
            or raw_approval_time_hours < 0
            or raw_queue_time_hours < 0
            or raw_implementation_hours < 0
            or raw_lead_time_to_production_hours < 0
            or planned_end_at < planned_start_at,
            false
        ) as has_negative_duration,
        in_blackout,
        -- scheduled (open / in-progress) changes only; null = not checked
        checked_outside_maintenance_window as is_outside_maintenance_window

    from flagged

)

select * from final
-- in the order of opening: a period's changes sit together (DuckDB skips the other row groups)
order by opened_at, change_id
