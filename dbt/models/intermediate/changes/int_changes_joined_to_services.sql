{#- One row per (change, business service): every service a change touches, through the
    services of the CIs it touches (any role). `is_primary_service` marks the one service shown
    for the change: the primary CI's service, else the referenced service, else the first by name
    among affected / impacted CIs' services. -#}
with

change_cis as (

    select * from {{ ref('int_changes_joined_to_configuration_items') }}

),

ci_services as (

    select * from {{ ref('int_configuration_items_mapped_to_services') }}

),

touched as (

    select
        change_cis.change_id,
        ci_services.service_id,
        ci_services.service_name,
        min(case change_cis.role when 'primary' then 0 when 'service' then 1 else 2 end) as role_rank
    from change_cis
    inner join ci_services
        on ci_services.ci_id = change_cis.ci_id
    group by 1, 2, 3

),

flagged as (

    select
        change_id,
        service_id,
        service_name,
        row_number() over (
            partition by change_id
            order by role_rank, service_name, service_id
        ) = 1 as is_primary_service
    from touched

)

select * from flagged
