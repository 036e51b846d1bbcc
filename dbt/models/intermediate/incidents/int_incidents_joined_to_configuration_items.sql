{#- One row per incident: its CI (name resolved case-insensitively, any source system) and its
    business service: the incident's own service reference when it names a service, else the
    service of its CI. -#}
with

incidents as (

    select * from {{ ref('stg_canonical__incidents') }}

),

names as (

    select * from {{ ref('int_configuration_item_names_resolved') }}

),

ci_services as (

    select * from {{ ref('int_configuration_items_mapped_to_services') }}

),

joined as (

    select
        incidents.incident_id,
        ci_names.ci_id,
        ci_names.ci_name,
        coalesce(
            case when service_names.is_service then service_names.ci_id end,
            ci_services.service_id
        ) as service_id,
        coalesce(
            case when service_names.is_service then service_names.ci_name end,
            ci_services.service_name
        ) as service_name
    from incidents
    left join names as ci_names
        on ci_names.name_key = lower(incidents.ci_ref)
    left join names as service_names
        on service_names.name_key = lower(incidents.service_ref)
    left join ci_services
        on ci_services.ci_id = ci_names.ci_id

)

select * from joined
