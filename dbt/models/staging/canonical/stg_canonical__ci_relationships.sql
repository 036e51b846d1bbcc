{#- One row per CMDB relationship, read as "parent <parent_descriptor> child"
    (ServiceNow rel_type "Depends on::Used by": parent depends on child, child is used by parent). -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'ci_relationship'),
        partition_by=[
            'source_system',
            'lower(trim(parent_ref))',
            'lower(trim(child_ref))',
            'rel_type'
        ],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last',
        where="nullif(trim(parent_ref), '') is not null and nullif(trim(child_ref), '') is not null"
    ) }}

),

renamed as (

    select
        -- ids
        source_system || ':' || lower(trim(parent_ref)) || '|' || coalesce(rel_type, '')
            || '|' || lower(trim(child_ref)) as ci_relationship_id,
        source_system,
        source_id,

        -- strings
        trim(parent_ref) as parent_ref,
        trim(child_ref) as child_ref,
        rel_type,
        coalesce(nullif(trim(split_part(rel_type, '::', 1)), ''), 'related to') as parent_descriptor,
        coalesce(nullif(trim(split_part(rel_type, '::', 2)), ''), 'related to') as child_descriptor,

        -- timestamps
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
