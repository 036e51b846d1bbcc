{#- One row per incident: renamed, cast, priority and state mapped through the seeds. -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'incident'),
        partition_by=['source_system', 'number'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last, source_id desc',
        where='number is not null'
    ) }}

),

mapped as (

    select
        latest.*,
        latest.source_system || ':' || latest.number as incident_id,
        {{ seed_lookup_value('priority_map', 'priority') }} as mapped_priority,
        {{ seed_lookup_value('state_map', 'state') }} as mapped_state,
        {{ seed_lookup_value('state_map', 'state_category') }} as mapped_state_category
    from latest
    {{ seed_lookup_join('priority_mapping', 'priority_map', 'latest.source_system', 'latest.priority_raw', 'priority_raw') }}
    {{ seed_lookup_join('incident_state_mapping', 'state_map', 'latest.source_system', 'latest.state_raw', 'state_raw') }}

),

renamed as (

    select
        -- ids
        incident_id,
        source_system,
        source_id,
        number,

        -- strings
        title,
        coalesce(mapped_state, lower(replace(nullif(trim(state_raw), ''), ' ', '_'))) as state,
        coalesce(
            mapped_state_category,
            case when resolved_at is not null or closed_at is not null then 'resolved' else 'open' end
        ) as state_category,
        state_raw,
        priority_raw,
        close_code_raw,
        category,
        assignment_group,
        nullif(trim(ci_ref), '') as ci_ref,
        nullif(trim(service_ref), '') as service_ref,
        nullif(trim(caused_by_change_ref), '') as caused_by_change_ref,
        nullif(trim(fixed_by_change_ref), '') as fixed_by_change_ref,
        nullif(trim(problem_ref), '') as problem_ref,

        -- numerics
        coalesce(mapped_priority, {{ leading_integer('priority_raw') }}) as priority,
        {{ leading_integer('impact_raw') }} as impact,
        {{ leading_integer('urgency_raw') }} as urgency,

        -- timestamps
        cast(opened_at as timestamp) as opened_at,
        cast(resolved_at as timestamp) as resolved_at,
        cast(closed_at as timestamp) as closed_at,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at

    from mapped

)

select * from renamed
