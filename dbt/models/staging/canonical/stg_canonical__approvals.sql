{#- One row per approval decision on a change. -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'approval'),
        partition_by=['source_system', 'source_id'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last'
    ) }}

),

renamed as (

    select
        -- ids
        source_system || ':' || source_id as approval_id,
        source_system || ':' || trim(change_ref) as change_id,
        source_system,
        source_id,

        -- strings
        trim(change_ref) as change_ref,
        approver,
        case lower(trim(state_raw))
            when 'approved' then 'approved'
            when 'requested' then 'requested'
            when 'not yet requested' then 'not_requested'
            when 'rejected' then 'rejected'
            when 'cancelled' then 'canceled'
            when 'canceled' then 'canceled'
            when 'no longer required' then 'not_required'
            else 'other'
        end as approval_status,
        state_raw,
        comment,

        -- timestamps
        cast(decided_at as timestamp) as decided_at,
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
