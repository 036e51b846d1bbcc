{#- One row per release (ServiceNow rm_release, a Jira version, a GitHub release). -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'release'),
        partition_by=['source_system', 'coalesce(number, source_id)'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last, source_id desc'
    ) }}

),

renamed as (

    select
        -- ids
        source_system || ':' || coalesce(number, source_id) as release_id,
        source_system,
        source_id,
        number,

        -- strings
        name,
        version,
        release_type_raw,
        state_raw,
        product,

        -- booleans
        {{ parse_boolean('is_released_raw') }} as is_released,
        {{ parse_boolean('is_prerelease_raw') }} as is_prerelease,

        -- timestamps
        cast(planned_start_at as timestamp) as planned_start_at,
        cast(planned_end_at as timestamp) as planned_end_at,
        cast(actual_start_at as timestamp) as actual_start_at,
        cast(released_at as timestamp) as released_at,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
