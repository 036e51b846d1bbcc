{#- One row per explicit link from an incident to a change or a release (kind caused_by / fixed_by). -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'incident_link'),
        partition_by=[
            'source_system',
            'trim(incident_ref)',
            'trim(target_ref)',
            'lower(trim(kind))'
        ],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last',
        where="nullif(trim(incident_ref), '') is not null and nullif(trim(target_ref), '') is not null"
    ) }}

),

renamed as (

    select
        -- ids
        source_system || ':' || trim(incident_ref) as incident_id,
        source_system,

        -- strings
        trim(incident_ref) as incident_ref,
        coalesce(
            lower(nullif(trim(target_type), '')),
            case when upper(trim(target_ref)) like 'RLSE%' then 'release' else 'change' end
        ) as target_type,
        trim(target_ref) as target_ref,
        case
            when lower(replace(trim(kind), ' ', '_')) in ('caused_by', 'is_caused_by', 'caused') then 'caused_by'
            when lower(replace(trim(kind), ' ', '_')) in ('fixed_by', 'is_fixed_by', 'rfc', 'fixes') then 'fixed_by'
            else lower(replace(trim(kind), ' ', '_'))
        end as kind,

        -- timestamps
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
