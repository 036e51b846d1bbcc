{#- One row per release (identified by its source system, project / repository and number: two
    projects' versions of one name are two releases): its member changes, deployment time (defined once in
    int_releases_joined_to_member_changes), release lead time, the incidents it caused and its failure flag. Release-caused incidents are read from fct_incidents
    (primary_cause_release_id: the release of the incident's primary cause change, an explicit
    release link, or an inference against the deployment time), so each incident counts for at
    most one release. Definitions: models/docs.md. -#}
with

releases as (

    select * from {{ ref('stg_canonical__releases') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

release_deployments as (

    -- the deployment time, defined once (int_releases_joined_to_member_changes)
    select * from {{ ref('int_releases_joined_to_member_changes') }}

),

members as (

    select
        release_id,
        count(*) as member_change_count,
        count(*) filter (where is_completed) as completed_member_change_count,
        count(*) filter (where is_failed) as failed_member_change_count,
        min(opened_at) as first_member_opened_at
    from changes
    where release_id is not null
    group by 1

),

caused as (

    select
        primary_cause_release_id as release_id,
        count(*) as caused_incident_count,
        count(*) filter (where priority = 1) as caused_p1_count,
        count(*) filter (where priority = 2) as caused_p2_count,
        count(*) filter (where priority = 3) as caused_p3_count
    from incidents
    where primary_cause_release_id is not null
    group by 1

),

joined as (

    select
        releases.release_id,
        releases.source_system,
        releases.number,
        releases.project,
        releases.repository,
        releases.name,
        releases.version,
        releases.release_type_raw as release_type,
        releases.state_raw as state,
        releases.planned_start_at,
        releases.planned_end_at,
        releases.released_at,
        release_deployments.deployed_at,
        coalesce(members.member_change_count, 0) as member_change_count,
        coalesce(members.completed_member_change_count, 0) as completed_member_change_count,
        coalesce(members.failed_member_change_count, 0) as failed_member_change_count,
        members.first_member_opened_at,
        coalesce(caused.caused_incident_count, 0) as caused_incident_count,
        coalesce(caused.caused_p1_count, 0) as caused_p1_count,
        coalesce(caused.caused_p2_count, 0) as caused_p2_count,
        coalesce(caused.caused_p3_count, 0) as caused_p3_count
    from releases
    left join release_deployments
        on release_deployments.release_id = releases.release_id
    left join members
        on members.release_id = releases.release_id
    left join caused
        on caused.release_id = releases.release_id

),

final as (

    select
        release_id,
        source_system,
        number,
        project,
        repository,
        name,
        version,
        release_type,
        state,
        planned_start_at,
        planned_end_at,
        released_at,
        deployed_at,
        first_member_opened_at,
        {{ non_negative_hours('first_member_opened_at', 'deployed_at') }} as release_lead_time_hours,
        coalesce({{ hours_between('first_member_opened_at', 'deployed_at') }} < 0, false) as has_negative_lead_time,
        member_change_count,
        completed_member_change_count,
        failed_member_change_count,
        caused_incident_count,
        caused_p1_count,
        caused_p2_count,
        caused_p3_count,
        caused_p1_count + caused_p2_count + caused_p3_count as caused_p1_p3_count,
        deployed_at is not null as is_deployed,
        failed_member_change_count > 0 as has_failed_member_change,
        deployed_at is not null
            and (failed_member_change_count > 0 or caused_p1_count + caused_p2_count + caused_p3_count > 0) as is_failed
    from joined

)

select * from final
