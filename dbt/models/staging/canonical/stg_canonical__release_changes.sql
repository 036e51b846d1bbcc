{#- One row per (release, change) membership. -#}
with

source as (

    select * from {{ source('canonical', 'release_change') }}

),

latest as (

    select *
    from source
    where nullif(trim(release_ref), '') is not null
        and nullif(trim(change_ref), '') is not null
    qualify row_number() over (
        partition by source_system, trim(release_ref), trim(change_ref)
        order by updated_at desc nulls last, _loaded_at desc nulls last
    ) = 1

),

renamed as (

    select
        -- ids
        source_system || ':' || trim(release_ref) as release_id,
        source_system || ':' || trim(change_ref) as change_id,
        source_system,

        -- strings
        trim(release_ref) as release_ref,
        trim(change_ref) as change_ref,

        -- timestamps
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
