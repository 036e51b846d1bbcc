{#- One row per CMDB configuration item (services included): renamed, class mapped through the seed. -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'configuration_item'),
        partition_by=['source_system', 'source_id'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last'
    ) }}

),

mapped as (

    select
        latest.*,
        latest.source_system || ':' || latest.source_id as ci_id,
        {{ seed_lookup_value('class_map', 'ci_class') }} as mapped_ci_class
    from latest
    {{ seed_lookup_join('ci_class_mapping', 'class_map', 'latest.source_system', 'latest.ci_class_raw', 'ci_class_raw') }}

),

renamed as (

    select
        -- ids
        ci_id,
        source_system,
        source_id,

        -- strings
        trim(name) as name,
        lower(trim(name)) as name_key,
        coalesce(
            mapped_ci_class,
            case when nullif(trim(ci_class_raw), '') is not null then 'other' end
        ) as ci_class,
        ci_class_raw,
        operational_status_raw,
        install_status_raw,
        lower(nullif(trim(environment), '')) as environment,
        criticality_raw,
        nullif(trim(service_ref), '') as service_ref,
        support_group,
        owned_by,

        -- numerics
        {{ leading_integer('criticality_raw') }} as criticality,

        -- booleans
        coalesce(mapped_ci_class = 'service', false) as is_service,

        -- timestamps
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at

    from mapped

)

select * from renamed
