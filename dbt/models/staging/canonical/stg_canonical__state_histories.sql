{#- One row per state transition of a change or an incident. -#}
with

deduplicated as (

    {{ deduplicate(
        source('canonical', 'state_history'),
        partition_by=['source_system', 'record_type', 'record_ref', 'changed_at', 'to_state'],
        order_by='changed_by',
        where='changed_at is not null'
    ) }}

),

renamed as (

    select
        -- ids
        source_system || ':' || record_type || ':' || record_ref || ':'
            || {{ timestamp_to_text('changed_at') }} || ':' || coalesce(to_state, '') as state_history_id,
        source_system || ':' || record_ref as record_id,
        source_system,

        -- strings
        lower(record_type) as record_type,
        record_ref,
        from_state,
        to_state,
        changed_by,

        -- timestamps
        cast(changed_at as timestamp) as changed_at

    from deduplicated

)

select * from renamed
