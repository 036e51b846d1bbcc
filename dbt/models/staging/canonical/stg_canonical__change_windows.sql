{#- One row per blackout (freeze) or maintenance window; a null scope means every CI. -#}
with

latest as (

    {{ deduplicate(
        source('canonical', 'change_window'),
        partition_by=['source_system', 'source_id'],
        order_by='updated_at desc nulls last, _loaded_at desc nulls last',
        where='start_at is not null and end_at is not null'
    ) }}

),

renamed as (

    select
        -- ids
        source_system || ':' || source_id as change_window_id,
        source_system,
        source_id,

        -- strings
        case
            when lower(trim(kind)) in ('blackout', 'freeze') then 'blackout'
            when lower(trim(kind)) in ('maintenance', 'maintenance_window') then 'maintenance'
            else lower(trim(kind))
        end as kind,
        name,
        nullif(trim(scope_ref), '') as scope_ref,

        -- timestamps
        cast(start_at as timestamp) as start_at,
        cast(end_at as timestamp) as end_at,
        cast(updated_at as timestamp) as updated_at

    from latest

)

select * from renamed
