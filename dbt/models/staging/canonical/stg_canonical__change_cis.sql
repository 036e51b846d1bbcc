{#- One row per (change, CI, role): a change touching a CI (roles primary, affected, impacted). -#}
with

source as (

    select * from {{ source('canonical', 'change_ci') }}

),

latest as (

    select *
    from source
    where nullif(trim(change_ref), '') is not null
        and nullif(trim(ci_ref), '') is not null
    qualify row_number() over (
        partition by source_system, trim(change_ref), lower(trim(ci_ref)), lower(trim(role))
        order by updated_at desc nulls last, _loaded_at desc nulls last
    ) = 1

),

renamed as (

    select
        -- ids
        source_system || ':' || trim(change_ref) as change_id,
        source_system,

        -- strings
        trim(change_ref) as change_ref,
        trim(ci_ref) as ci_ref,
        coalesce(lower(nullif(trim(role), '')), 'affected') as role,

        -- timestamps
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
