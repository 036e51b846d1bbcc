{#- One row per CAB decision recorded in changeboard (app or CLI) on an agenda item: form requests and
    ITSM changes alike. is_latest marks each change's decision in force (the last recorded); the
    change's attributes come from fct_changes when the warehouse holds the change (is_change_known),
    its source id (a ServiceNow sys_id) from staging when the decider's app did not record it. -#}
with

decisions as (

    select * from {{ ref('stg_canonical__cab_decisions') }}

),

changes as (

    select change_id, number, source_system, state, state_category, change_type, planned_start_at
    from {{ ref('fct_changes') }}

),

source_ids as (

    select change_id, max(source_id) as source_id
    from {{ ref('stg_canonical__changes') }}
    group by change_id

),

ranked as (

    select
        decisions.*,
        row_number() over (
            partition by decisions.change_id
            order by decisions.decided_at desc, cast(substr(decisions.source_id, 4) as bigint) desc
        ) as recency
    from decisions

),

final as (

    select
        ranked.cab_decision_id,
        ranked.change_id,
        coalesce(ranked.change_number, changes.number) as number,
        coalesce(ranked.change_source_system, changes.source_system) as source_system,
        coalesce(ranked.change_source_id, source_ids.source_id) as change_source_id,
        ranked.title,
        ranked.meeting_at,
        ranked.decision,
        ranked.decision in ('approved', 'approved_with_conditions') as is_approval,
        ranked.reason,
        ranked.conditions,
        ranked.deferred_to,
        ranked.decided_by,
        ranked.is_identity_verified,
        ranked.decided_at,
        ranked.is_blackout_confirmed,
        ranked.risk_level as risk_level_at_decision,
        ranked.risk_score as risk_score_at_decision,
        ranked.in_blackout as in_blackout_at_decision,
        ranked.blackout_window_name as blackout_window_name_at_decision,
        ranked.collision_count as collision_count_at_decision,
        ranked.recency = 1 as is_latest,
        changes.change_id is not null as is_change_known,
        changes.state as change_state,
        changes.state_category as change_state_category,
        changes.change_type,
        changes.planned_start_at
    from ranked
    left join changes on changes.change_id = ranked.change_id
    left join source_ids on source_ids.change_id = ranked.change_id

)

select * from final
