{#- One row per deployment of a release or commit to an environment. -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'deployment'),
        partition_by=['source_system', 'source_id'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last'
    ) }}

),

renamed as (

    select
        -- ids
        source_system || ':' || source_id as deployment_id,
        source_system,
        source_id,

        -- strings
        nullif(trim(release_ref), '') as release_ref,
        nullif(trim(change_ref), '') as change_ref,
        nullif(trim(service_ref), '') as service_ref,
        lower(nullif(trim(environment), '')) as environment,
        lower(nullif(trim(status_raw), '')) as status,
        status_raw,
        commit_sha,
        ref,

        -- timestamps
        cast(started_at as timestamp) as started_at,
        cast(finished_at as timestamp) as finished_at,
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
