{#- One row per deployment record (delivery tools: a deployments CSV, GitHub deployments, the
    deployment of a published GitHub release): its environment and status, the release and change
    it deploys, and its lead time where the data dates the work it ships. These are DORA's
    deployments in every period that has them (rpt_dora); definitions: models/docs.md. -#}
{%- set success_statuses = var('deployment_success_statuses') -%}
{%- set production_environments = var('production_environments') -%}
with

deployments as (

    select * from {{ ref('stg_canonical__deployments') }}

),

releases as (

    select * from {{ ref('stg_canonical__releases') }}

),

release_facts as (

    select * from {{ ref('fct_releases') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

release_matches as (

    -- a release reference resolves to the release of that number (its own source system first),
    -- else to the release of that version / name in the deployment's repository or project
    select
        deployments.deployment_id,
        releases.release_id,
        row_number() over (
            partition by deployments.deployment_id
            order by
                case when lower(releases.number) = lower(deployments.release_ref) then 0 else 1 end asc,
                (releases.source_system = deployments.source_system) desc,
                releases.released_at desc nulls last,
                releases.release_id asc
        ) as release_rank
    from deployments
    inner join releases
        on lower(releases.number) = lower(deployments.release_ref)
        or (
            lower(coalesce(releases.repository, releases.project)) = lower(deployments.service_ref)
            and lower(deployments.release_ref) in (lower(releases.version), lower(releases.name))
        )
    where deployments.release_ref is not null

),

change_matches as (

    select
        deployments.deployment_id,
        changes.change_id,
        row_number() over (
            partition by deployments.deployment_id
            order by (changes.source_system = deployments.source_system) desc, changes.change_id
        ) as change_rank
    from deployments
    inner join changes
        on lower(changes.number) = lower(deployments.change_ref)
    where deployments.change_ref is not null

),

joined as (

    select
        deployments.deployment_id,
        deployments.source_system,
        deployments.source_id,
        deployments.environment,
        deployments.status,
        deployments.service_ref,
        deployments.commit_sha,
        deployments.release_ref,
        deployments.change_ref,
        release_matches.release_id,
        change_matches.change_id,
        deployments.started_at,
        deployments.finished_at,
        coalesce(deployments.finished_at, deployments.started_at) as deployed_at,
        coalesce(deployments.environment in ('{{ production_environments | join("', '") }}'), true) as is_production,
        coalesce(deployments.status in ('{{ success_statuses | join("', '") }}'), false) as is_successful,
        -- where the shipped work starts: the deployed change's opening, else the release's first
        -- member change's opening, else the release's creation (GitHub: the date of its commit)
        case
            when changes.opened_at is not null then 'change_opened'
            when release_facts.first_member_opened_at is not null then 'release_first_member_opened'
            when releases.created_at is not null then 'release_created'
        end as lead_time_source,
        coalesce(changes.opened_at, release_facts.first_member_opened_at, releases.created_at) as lead_time_start_at
    from deployments
    left join release_matches
        on release_matches.deployment_id = deployments.deployment_id
        and release_matches.release_rank = 1
    left join change_matches
        on change_matches.deployment_id = deployments.deployment_id
        and change_matches.change_rank = 1
    left join releases
        on releases.release_id = release_matches.release_id
    left join release_facts
        on release_facts.release_id = release_matches.release_id
    left join changes
        on changes.change_id = change_matches.change_id

),

counted as (

    -- one commit deployed to one environment on one UTC day is one deployment, however many tools
    -- reported it (a GitHub release and the pipeline's deployments CSV): the first record counts
    select
        *,
        row_number() over (
            partition by coalesce(
                commit_sha || '|' || coalesce(environment, '') || '|' || cast(cast(deployed_at as date) as {{ dbt.type_string() }}),
                deployment_id
            )
            order by is_successful desc, deployed_at asc nulls last, deployment_id asc
        ) = 1 as is_first_record_of_deployment
    from joined

),

final as (

    select
        deployment_id,
        source_system,
        source_id,
        environment,
        status,
        service_ref,
        commit_sha,
        release_ref,
        release_id,
        change_ref,
        change_id,
        started_at,
        finished_at,
        deployed_at,
        lead_time_start_at,
        lead_time_source,
        {{ non_negative_hours('lead_time_start_at', 'deployed_at') }} as lead_time_hours,
        coalesce({{ hours_between('lead_time_start_at', 'deployed_at') }} < 0, false) as has_negative_lead_time,
        is_production,
        is_successful,
        is_first_record_of_deployment,
        is_production and is_successful and is_first_record_of_deployment and deployed_at is not null
            as is_counted_deployment
    from counted

)

select * from final
