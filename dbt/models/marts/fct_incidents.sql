{#- One row per incident, with its CI, service, restore time and its primary cause (a change,
    a release) as decided in int_incidents_attributed_to_changes. -#}
with

incidents as (

    select * from {{ ref('stg_canonical__incidents') }}

),

incident_cis as (

    select * from {{ ref('int_incidents_joined_to_configuration_items') }}

),

ci_keys as (

    select * from {{ ref('int_configuration_item_keys') }}

),

attributions as (

    select * from {{ ref('int_incidents_attributed_to_changes') }}

),

change_releases as (

    select * from {{ ref('int_changes_joined_to_releases') }}

),

incident_links as (

    select * from {{ ref('stg_canonical__incident_links') }}

),

changes as (

    select * from {{ ref('stg_canonical__changes') }}

),

releases as (

    select * from {{ ref('stg_canonical__releases') }}

),

release_deployments as (

    -- a release's deployment time, defined once (int_releases_joined_to_member_changes)
    select * from {{ ref('int_releases_joined_to_member_changes') }}

),

inferred_release_causes as (

    -- incidents without a primary cause change or explicit release link, inferred against a
    -- release's deployment time (int_incidents_attributed_to_releases)
    select * from {{ ref('int_incidents_attributed_to_releases') }}

),

primary_causes as (

    select
        attributions.incident_id,
        attributions.change_id,
        attributions.method,
        attributions.confidence,
        attributions.change_number,
        attributions.evidence,
        change_releases.release_id
    from attributions
    left join change_releases
        on change_releases.change_id = attributions.change_id
    where attributions.is_primary

),

explicit_release_causes_ranked as (

    select
        incident_links.incident_id,
        releases.release_id,
        row_number() over (
            partition by incident_links.incident_id
            order by (releases.source_system = incident_links.source_system) desc, releases.released_at desc nulls last
        ) as release_cause_rank
    from incident_links
    inner join releases
        on lower(coalesce(releases.number, releases.source_id)) = lower(incident_links.target_ref)
    where incident_links.kind = 'caused_by'
        and incident_links.target_type = 'release'

),

explicit_release_causes as (

    select
        incident_id,
        release_id
    from explicit_release_causes_ranked
    where release_cause_rank = 1

),

fix_references as (

    select
        incident_id,
        source_system,
        fixed_by_change_ref as change_ref,
        0 as reference_rank
    from incidents
    where fixed_by_change_ref is not null
    union all
    select
        incident_id,
        source_system,
        target_ref as change_ref,
        1 as reference_rank
    from incident_links
    where kind = 'fixed_by' and target_type = 'change'

),

fixing_changes_ranked as (

    select
        fix_references.incident_id,
        changes.change_id as fixed_by_change_id,
        row_number() over (
            partition by fix_references.incident_id
            order by fix_references.reference_rank asc, (changes.source_system = fix_references.source_system) desc, changes.change_id asc
        ) as fixing_change_rank
    from fix_references
    inner join changes
        on lower(changes.number) = lower(fix_references.change_ref)

),

fixing_changes as (

    select
        incident_id,
        fixed_by_change_id
    from fixing_changes_ranked
    where fixing_change_rank = 1

),

final as (

    select
        incidents.incident_id,
        incidents.source_system,
        incidents.number,
        incidents.title,
        incidents.priority,
        incidents.state,
        incident_cis.ci_id,
        ci_keys.ci_key,
        incident_cis.ci_name,
        incident_cis.service_id,
        incident_cis.service_name,
        incidents.opened_at,
        incidents.resolved_at,
        incidents.closed_at,
        {{ non_negative_hours('incidents.opened_at', 'coalesce(incidents.resolved_at, incidents.closed_at)') }}
            as time_to_restore_hours,
        case
            when incidents.priority <= 2
                then {{ non_negative_hours('incidents.opened_at', 'coalesce(incidents.resolved_at, incidents.closed_at)') }}
            when incidents.priority > 2 then 0.0
        end as outage_hours,
        -- an outage is a P1 or P2 incident: its outage hours are its restore time, every other incident's 0
        -- (or unknown); rpt_change_kpis sums outage_hours over the change-caused is_outage incidents
        coalesce(incidents.priority <= 2, false) as is_outage,
        primary_causes.change_id as primary_cause_change_id,
        coalesce(primary_causes.release_id, explicit_release_causes.release_id, inferred_release_causes.release_id)
            as primary_cause_release_id,
        primary_causes.method as primary_cause_method,
        primary_causes.confidence as primary_cause_confidence,
        primary_causes.change_number as primary_cause_change_number,
        primary_causes.evidence as primary_cause_evidence,
        primary_causes.change_id is not null as is_change_caused,
        coalesce(primary_causes.release_id, explicit_release_causes.release_id, inferred_release_causes.release_id)
            is not null as is_release_caused,
        -- the event that places a release-caused incident in a period: its release's deployment time
        -- (fct_releases.deployed_at), as fct_releases counts caused_incident_count by deployed_at
        release_deployments.deployed_at as primary_cause_release_deployed_at,
        fixing_changes.fixed_by_change_id
    from incidents
    left join incident_cis
        on incident_cis.incident_id = incidents.incident_id
    left join ci_keys
        on ci_keys.ci_id = incident_cis.ci_id
    left join primary_causes
        on primary_causes.incident_id = incidents.incident_id
    left join explicit_release_causes
        on explicit_release_causes.incident_id = incidents.incident_id
    left join inferred_release_causes
        on inferred_release_causes.incident_id = incidents.incident_id
    left join fixing_changes
        on fixing_changes.incident_id = incidents.incident_id
    left join release_deployments
        on release_deployments.release_id
        = coalesce(primary_causes.release_id, explicit_release_causes.release_id, inferred_release_causes.release_id)

)

select * from final
-- in the order of opening: a period's incidents sit together (DuckDB skips the other row groups)
order by opened_at, incident_id
