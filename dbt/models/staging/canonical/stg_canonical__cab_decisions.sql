{#- One row per CAB decision recorded in changeboard (the request store's cab_decision table). -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'cab_decision'),
        partition_by=['source_system', 'source_id'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last'
    ) }}

),

renamed as (

    select
        -- ids
        source_system || ':' || source_id as cab_decision_id,
        trim(change_ref) as change_id,
        source_system,
        source_id,

        -- strings
        change_source_system,
        change_number,
        change_source_id,
        title,
        case lower(trim(decision_raw))
            when 'approved' then 'approved'
            when 'approved_with_conditions' then 'approved_with_conditions'
            when 'rejected' then 'rejected'
            when 'deferred' then 'deferred'
            else 'other'
        end as decision,
        decision_raw,
        reason,
        conditions,
        decided_by,
        risk_level,
        blackout_window_name,

        -- numbers
        cast(risk_score as integer) as risk_score,
        cast(collision_count as integer) as collision_count,

        -- booleans
        coalesce(identity_verified, false) as is_identity_verified,
        coalesce(blackout_confirmed, false) as is_blackout_confirmed,
        in_blackout,

        -- timestamps
        cast(meeting_at as timestamp) as meeting_at,
        cast(deferred_to as date) as deferred_to,
        cast(decided_at as timestamp) as decided_at,
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
