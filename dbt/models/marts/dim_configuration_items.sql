{#- One row per configuration item of the CMDB (services included), with its service and its
    change and incident history counts. -#}
with

configuration_items as (

    select * from {{ ref('stg_canonical__configuration_items') }}

),

ci_keys as (

    select * from {{ ref('int_configuration_item_keys') }}

),

ci_services as (

    select * from {{ ref('int_configuration_items_mapped_to_services') }}

),

change_cis as (

    select * from {{ ref('int_changes_joined_to_configuration_items') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

ci_changes as (

    select distinct
        change_cis.ci_id,
        change_cis.change_id
    from change_cis
    where change_cis.ci_id is not null

),

change_history as (

    select
        ci_changes.ci_id,
        count(*) as change_count,
        count(*) filter (where changes.is_failed) as failed_change_count,
        cast(sum(changes.caused_incident_count) as bigint) as caused_incident_count,
        max(coalesce(changes.actual_end_at, changes.actual_start_at, changes.opened_at)) as last_change_at
    from ci_changes
    inner join changes
        on changes.change_id = ci_changes.change_id
    group by 1

),

incident_history as (

    select
        ci_id,
        count(*) as incident_count
    from incidents
    where ci_id is not null
    group by 1

),

final as (

    select
        configuration_items.ci_id,
        ci_keys.ci_key,
        configuration_items.name,
        configuration_items.ci_class,
        configuration_items.environment,
        configuration_items.criticality,
        ci_services.service_id,
        ci_services.service_name,
        configuration_items.support_group,
        coalesce(change_history.change_count, 0) as change_count,
        coalesce(change_history.failed_change_count, 0) as failed_change_count,
        coalesce(change_history.caused_incident_count, 0) as caused_incident_count,
        coalesce(incident_history.incident_count, 0) as incident_count,
        change_history.last_change_at
    from configuration_items
    inner join ci_keys
        on ci_keys.ci_id = configuration_items.ci_id
    left join ci_services
        on ci_services.ci_id = configuration_items.ci_id
    left join change_history
        on change_history.ci_id = configuration_items.ci_id
    left join incident_history
        on incident_history.ci_id = configuration_items.ci_id

)

select * from final
