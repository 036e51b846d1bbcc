{#- One row per (agenda section, change) for the CAB meeting at T = var('cab_meeting_at'), by
    default the next working day at 10:00 UTC after "now" (macro cab_meeting_timestamp). The
    previous meeting is T - var('cab_previous_meeting_days') (7) days. Sections, in order:
    awaiting_decision (is_awaiting_decision), scheduled (open or in progress, not awaiting a
    decision, planned start in [T, T + var('forward_schedule_days'))), emergency_retrospective
    (emergency changes whose retrospective_at falls in [previous meeting, T)),
    post_implementation_review (failed changes whose review_at falls in [previous meeting, T)).
    A change is listed once in the first two sections together; a failed emergency change can be
    in both review sections. The evidence comes from fct_change_risk_evidence (as of the build).
    An item of the first two sections is flagged for replanning (is_replan) when its planned window
    has already passed at T (planned end, else planned start, before T) or its record has had no
    update for var('cab_stale_after_days') (30) days before T (fct_changes.updated_at). -#}
{%- set forward_days = var('forward_schedule_days') -%}
{%- set previous_days = var('cab_previous_meeting_days', 7) -%}
{%- set stale_days = var('cab_stale_after_days', 30) -%}
with

evidence as (

    select * from {{ ref('fct_change_risk_evidence') }}

),

meeting as (

    select
        {{ cab_meeting_timestamp() }} as cab_meeting_at

),

meeting_bounds as (

    select
        cab_meeting_at,
        {{ dbt.dateadd('day', -1 * previous_days, 'cab_meeting_at') }} as previous_meeting_at,
        {{ dbt.dateadd('day', forward_days, 'cab_meeting_at') }} as forward_schedule_end_at
    from meeting

),

sectioned as (

    select
        evidence.*,
        meeting_bounds.cab_meeting_at,
        meeting_bounds.previous_meeting_at,
        meeting_bounds.forward_schedule_end_at,
        'awaiting_decision' as agenda_section,
        1 as section_order
    from evidence
    cross join meeting_bounds
    where evidence.is_awaiting_decision
    union all
    select
        evidence.*,
        meeting_bounds.cab_meeting_at,
        meeting_bounds.previous_meeting_at,
        meeting_bounds.forward_schedule_end_at,
        'scheduled' as agenda_section,
        2 as section_order
    from evidence
    cross join meeting_bounds
    where not evidence.is_awaiting_decision
        and evidence.state_category in ('open', 'in_progress')
        and evidence.planned_start_at >= meeting_bounds.cab_meeting_at
        and evidence.planned_start_at < meeting_bounds.forward_schedule_end_at
    union all
    select
        evidence.*,
        meeting_bounds.cab_meeting_at,
        meeting_bounds.previous_meeting_at,
        meeting_bounds.forward_schedule_end_at,
        'emergency_retrospective' as agenda_section,
        3 as section_order
    from evidence
    cross join meeting_bounds
    where evidence.is_emergency
        and evidence.retrospective_at >= meeting_bounds.previous_meeting_at
        and evidence.retrospective_at < meeting_bounds.cab_meeting_at
    union all
    select
        evidence.*,
        meeting_bounds.cab_meeting_at,
        meeting_bounds.previous_meeting_at,
        meeting_bounds.forward_schedule_end_at,
        'post_implementation_review' as agenda_section,
        4 as section_order
    from evidence
    cross join meeting_bounds
    where evidence.is_failed
        and evidence.review_at >= meeting_bounds.previous_meeting_at
        and evidence.review_at < meeting_bounds.cab_meeting_at

),

updates as (

    select change_id, updated_at
    from {{ ref('fct_changes') }}
    where change_id in (select change_id from sectioned)

),

flagged as (

    select
        sectioned.*,
        updates.updated_at,
        sectioned.agenda_section in ('awaiting_decision', 'scheduled')
            and coalesce(sectioned.planned_end_at, sectioned.planned_start_at) < sectioned.cab_meeting_at
            as is_window_passed,
        sectioned.agenda_section in ('awaiting_decision', 'scheduled')
            and updates.updated_at < {{ dbt.dateadd('day', -1 * stale_days, 'sectioned.cab_meeting_at') }}
            as is_stale
    from sectioned
    left join updates on updates.change_id = sectioned.change_id

),

final as (

    select
        agenda_section || '|' || change_id as agenda_item_id,
        agenda_section,
        section_order,
        cab_meeting_at,
        previous_meeting_at,
        forward_schedule_end_at,
        change_id,
        number,
        source_id,
        source_system,
        title,
        change_type,
        risk,
        state,
        outcome,
        is_from_form,
        assignment_group,
        primary_ci_name,
        ci_names,
        service_name,
        planned_start_at,
        planned_end_at,
        actual_start_at,
        actual_end_at,
        in_blackout,
        blackout_window_name,
        is_outside_maintenance_window,
        collision_count,
        collision_descriptions,
        caused_incident_count,
        caused_incidents,
        evidence_as_of,
        ci_completed_count,
        ci_successful_count,
        ci_failed_count,
        ci_success_rate,
        ci_caused_incident_count,
        service_completed_count,
        service_successful_count,
        service_failed_count,
        service_success_rate,
        service_caused_incident_count,
        group_completed_count,
        group_successful_count,
        group_failed_count,
        group_success_rate,
        group_caused_incident_count,
        open_incident_count,
        last_failed_change_number,
        last_failed_at,
        last_failure_caused_incident_count,
        last_failure_caused_incidents,
        risk_score,
        risk_level,
        risk_reasons,
        updated_at,
        coalesce(is_window_passed or is_stale, false) as is_replan,
        case
            when is_window_passed and is_stale
                then 'planned window already passed; no update for {{ stale_days }} days or more'
            when is_window_passed then 'planned window already passed'
            when is_stale then 'no update for {{ stale_days }} days or more'
        end as replan_reason,
        cast({{ stale_days }} as integer) as replan_stale_days
    from flagged

)

select * from final
