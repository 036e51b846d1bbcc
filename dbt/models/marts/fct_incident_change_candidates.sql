{#- One row per (incident, candidate change) with the attribution method, confidence and
    evidence. The public face of int_incidents_attributed_to_changes. -#}
with

attributions as (

    select * from {{ ref('int_incidents_attributed_to_changes') }}

),

final as (

    select
        incident_id,
        change_id,
        method,
        confidence,
        hours_after_change,
        relationship_path,
        is_counted,
        is_primary,
        evidence
    from attributions

)

select * from final
