{#- One row per deployment of a release or commit to an environment. -#}
with

source as (

    select * from {{ source('canonical', 'deployment') }}

),

latest as (

    select *
    from source
    qualify row_number() over (
        partition by source_system, source_id
        order by updated_at desc nulls last, _loaded_at desc nulls last
    ) = 1

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
