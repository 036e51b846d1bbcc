{#- One row per business service (a CI of class service), with its CIs and its change and
    incident history counts. -#}
with

configuration_items as (

    select * from {{ ref('stg_canonical__configuration_items') }}

),

ci_services as (

    select * from {{ ref('int_configuration_items_mapped_to_services') }}

),

change_services as (

    select * from {{ ref('int_changes_joined_to_services') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

service_cis as (

    select
        service_id,
        count(*) filter (where ci_id <> service_id) as ci_count
    from ci_services
    group by 1

),

change_history as (

    select
        change_services.service_id,
        count(*) as change_count,
        count(*) filter (where changes.is_failed) as failed_change_count,
        cast(sum(changes.caused_incident_count) as bigint) as caused_incident_count,
        max(coalesce(changes.actual_end_at, changes.actual_start_at, changes.opened_at)) as last_change_at
    from change_services
    inner join changes
        on changes.change_id = change_services.change_id
    group by 1

),

incident_history as (

    select
        service_id,
        count(*) as incident_count,
        count(*) filter (where is_change_caused) as change_caused_incident_count
    from incidents
    where service_id is not null
    group by 1

),

final as (

    select
        configuration_items.ci_id as service_id,
        configuration_items.name as service_name,
        configuration_items.environment,
        configuration_items.criticality,
        configuration_items.support_group,
        coalesce(service_cis.ci_count, 0) as ci_count,
        coalesce(change_history.change_count, 0) as change_count,
        coalesce(change_history.failed_change_count, 0) as failed_change_count,
        coalesce(change_history.caused_incident_count, 0) as caused_incident_count,
        coalesce(incident_history.incident_count, 0) as incident_count,
        coalesce(incident_history.change_caused_incident_count, 0) as change_caused_incident_count,
        change_history.last_change_at
    from configuration_items
    left join service_cis
        on service_cis.service_id = configuration_items.ci_id
    left join change_history
        on change_history.service_id = configuration_items.ci_id
    left join incident_history
        on incident_history.service_id = configuration_items.ci_id
    where configuration_items.is_service

)

select * from final
