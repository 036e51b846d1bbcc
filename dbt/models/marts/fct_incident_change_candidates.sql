{#- One row per (incident, candidate change) with the attribution method, confidence and
    evidence. The public face of int_incidents_attributed_to_changes. Stored in the order of the
    incident's opening, so a period's candidates sit together (DuckDB skips the other row groups). -#}
with

attributions as (

    select * from {{ ref('int_incidents_attributed_to_changes') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

final as (

    select
        attributions.incident_id,
        attributions.change_id,
        attributions.method,
        attributions.confidence,
        attributions.hours_after_change,
        attributions.relationship_path,
        attributions.is_counted,
        attributions.is_primary,
        attributions.evidence,
        incidents.number as incident_number,
        incidents.opened_at as incident_opened_at,
        incidents.ci_id as incident_ci_id,
        incidents.ci_key as incident_ci_key,
        attributions.change_number,
        changes.primary_ci_id as change_primary_ci_id,
        changes.primary_ci_key as change_primary_ci_key,
        changes.primary_ci_name as change_primary_ci_name
    from attributions
    inner join incidents
        on incidents.incident_id = attributions.incident_id
    inner join changes
        on changes.change_id = attributions.change_id

)

select * from final
order by incident_opened_at, incident_id, change_id
