{#- One row per (change, CI, role): a change touching a CI (roles primary, affected, impacted). -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'change_ci'),
        partition_by=[
            'source_system',
            'trim(change_ref)',
            'lower(trim(ci_ref))',
            'lower(trim(role))'
        ],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last',
        where="nullif(trim(change_ref), '') is not null and nullif(trim(ci_ref), '') is not null"
    ) }}

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
