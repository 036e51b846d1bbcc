{#- One row per (release, change) membership. -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'release_change'),
        partition_by=['source_system', 'trim(release_ref)', 'trim(change_ref)'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last',
        where="nullif(trim(release_ref), '') is not null and nullif(trim(change_ref), '') is not null"
    ) }}

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
