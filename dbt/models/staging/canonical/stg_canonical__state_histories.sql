{#- One row per state transition of a change or an incident. -#}
with

source as (

    select * from {{ source('canonical', 'state_history') }}

),

deduplicated as (

    select distinct
        source_system,
        record_type,
        record_ref,
        from_state,
        to_state,
        changed_by,
        changed_at
    from source
    where changed_at is not null
    qualify row_number() over (
        partition by source_system, record_type, record_ref, changed_at, to_state
        order by changed_by
    ) = 1

),

renamed as (

    select
        -- ids
        source_system || ':' || record_type || ':' || record_ref || ':'
            || strftime(changed_at, '%Y-%m-%dT%H:%M:%S.%f') || ':' || coalesce(to_state, '') as state_history_id,
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
