{#- One row per problem record. -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'problem'),
        partition_by=['source_system', 'source_id'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last'
    ) }}

),

renamed as (

    select
        -- ids
        source_system || ':' || source_id as problem_id,
        source_system,
        source_id,
        number,

        -- strings
        title,
        state_raw,
        nullif(trim(fixed_by_change_ref), '') as fixed_by_change_ref,

        -- timestamps
        cast(opened_at as timestamp) as opened_at,
        cast(resolved_at as timestamp) as resolved_at,
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
