{#- One row per release (ServiceNow rm_release, a Jira version, a GitHub release). A release is
    identified by its source system, its project / repository (product) and its number: versions
    of the same name in two projects stay two releases. Connectors whose version names repeat across
    projects qualify the number themselves (Jira PROJECT@version, GitHub owner/repo@tag); for any
    other source two projects' releases of one number keep the project in their release_id. -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'release'),
        partition_by=['source_system', "coalesce(nullif(trim(product), ''), '')", 'coalesce(number, source_id)'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last, source_id desc'
    ) }}

),

keyed as (

    select
        *,
        count(*) over (partition by source_system, coalesce(number, source_id)) as same_number_count
    from latest

),

renamed as (

    select
        -- ids
        source_system || ':'
            || case when same_number_count > 1 and nullif(trim(product), '') is not null then trim(product) || '@' else '' end
            || coalesce(number, source_id) as release_id,
        source_system,
        source_id,
        number,

        -- strings
        name,
        version,
        release_type_raw,
        state_raw,
        product,
        -- the project (issue trackers, ITSM) or repository (code hosts) the release belongs to
        case
            when source_system not in ({{ "'" ~ var('repository_source_systems') | join("', '") ~ "'" }})
                then nullif(trim(product), '')
        end as project,
        case
            when source_system in ({{ "'" ~ var('repository_source_systems') | join("', '") ~ "'" }})
                then nullif(trim(product), '')
        end as repository,

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

    from keyed

)

select * from renamed
