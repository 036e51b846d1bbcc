{#- One row per incident that has no primary cause change and no explicit release link, but
    opened within the attribution window after a release's deployment on a CI (or a related CI,
    or a service) of one of its member changes: the release inferred as its cause, with the same
    methods, confidence formula and threshold as int_incidents_attributed_to_changes, against the
    release's deployment time (released_at, else its member changes' last actual end). Only
    counted candidates (confidence >= threshold) are kept; per incident the best one wins. An
    "as of" join (macro latest_preceding_match) keeps hot CIs linear. -#}
{%- set window_hours = var('attribution_window_hours') -%}
{%- set threshold = var('attribution_confidence_threshold') -%}
{%- set base = var('attribution_base_confidence') -%}
{%- set decay = var('attribution_time_decay') -%}
with

changes as (

    select * from {{ ref('stg_canonical__changes') }}

),

releases as (

    select * from {{ ref('stg_canonical__releases') }}

),

change_releases as (

    select * from {{ ref('int_changes_joined_to_releases') }}

),

incidents as (

    select * from {{ ref('stg_canonical__incidents') }}

),

incident_cis as (

    select * from {{ ref('int_incidents_joined_to_configuration_items') }}

),

incident_links as (

    select * from {{ ref('stg_canonical__incident_links') }}

),

change_attributions as (

    select * from {{ ref('int_incidents_attributed_to_changes') }}

),

change_cis as (

    select * from {{ ref('int_changes_joined_to_configuration_items') }}

),

change_services as (

    select * from {{ ref('int_changes_joined_to_services') }}

),

neighbours as (

    select * from {{ ref('int_configuration_items_joined_to_neighbours') }}

),

release_deployments as (

    select
        releases.release_id,
        releases.number as release_number,
        coalesce(releases.released_at, max(changes.actual_end_at)) as deployed_at
    from releases
    inner join change_releases
        on change_releases.release_id = releases.release_id
    inner join changes
        on changes.change_id = change_releases.change_id
    group by releases.release_id, releases.number, releases.released_at

),

release_touches as (

    select distinct
        change_releases.release_id,
        touches.match_level,
        touches.touched_id,
        touches.relationship_path
    from change_releases
    inner join (
        select
            change_id,
            0 as match_level,
            ci_id as touched_id,
            ci_name as relationship_path
        from change_cis
        where ci_id is not null
        union all
        select
            change_cis.change_id,
            neighbours.hops as match_level,
            neighbours.neighbour_ci_id as touched_id,
            neighbours.relationship_path
        from change_cis
        inner join neighbours
            on neighbours.ci_id = change_cis.ci_id
        union all
        select
            change_id,
            3 as match_level,
            service_id as touched_id,
            service_name as relationship_path
        from change_services
    ) as touches
        on touches.change_id = change_releases.change_id

),

release_touches_timed as (

    select
        release_touches.release_id,
        release_touches.match_level,
        release_touches.touched_id,
        min(release_touches.relationship_path) as relationship_path,
        max(release_deployments.release_number) as release_number,
        max(release_deployments.deployed_at) as deployed_at
    from release_touches
    inner join release_deployments
        on release_deployments.release_id = release_touches.release_id
    where release_deployments.deployed_at is not null
    group by 1, 2, 3

),

already_caused as (

    select incident_id
    from change_attributions
    where is_primary
    union
    select incident_id
    from incident_links
    where kind = 'caused_by'
        and target_type = 'release'

),

incident_levels as (

    select
        incidents.incident_id,
        incidents.number as incident_number,
        incidents.opened_at,
        levels.match_level,
        case when levels.match_level = 3 then incident_cis.service_id else incident_cis.ci_id end as match_id
    from incidents
    inner join incident_cis
        on incident_cis.incident_id = incidents.incident_id
    cross join (
        values (0), (1), (2), (3)
    ) as levels (match_level)
    left join already_caused
        on already_caused.incident_id = incidents.incident_id
    where incidents.opened_at is not null
        and already_caused.incident_id is null
        and case when levels.match_level = 3 then incident_cis.service_id else incident_cis.ci_id end is not null

),

latest_deployed as (

    {{ latest_preceding_match(
        'incident_levels', 'release_touches_timed',
        [['match_level', 'match_level'], ['match_id', 'touched_id']],
        'opened_at', 'deployed_at',
        ['release_id', 'release_number', 'relationship_path', 'deployed_at'],
        ['incident_id', 'match_level'],
        window_hours
    ) }}

),

scored as (

    select
        incident_id,
        incident_number,
        release_id,
        release_number,
        case match_level
            when 0 then 'inferred_same_ci'
            when 1 then 'inferred_related_ci_1'
            when 2 then 'inferred_related_ci_2'
            else 'inferred_same_service'
        end as method,
        relationship_path,
        deployed_at,
        opened_at,
        {{ hours_between('deployed_at', 'opened_at') }} as hours_after_deployment,
        round(
            case match_level
                when 0 then {{ base['inferred_same_ci'] }}
                when 1 then {{ base['inferred_related_ci_1'] }}
                when 2 then {{ base['inferred_related_ci_2'] }}
                else {{ base['inferred_same_service'] }}
            end
            * (1 - {{ decay }} * least(greatest({{ hours_between('deployed_at', 'opened_at') }}, 0) / {{ window_hours }}.0, 1)),
            4
        ) as confidence
    from latest_deployed
    where opened_at <= {{ dbt.dateadd('hour', window_hours, 'deployed_at') }}

),

best as (

    select *
    from (
        select
            scored.*,
            row_number() over (
                partition by incident_id
                order by confidence desc, deployed_at desc, release_id
            ) as candidate_rank
        from scored
        where confidence >= {{ threshold }}
    ) as ranked
    where candidate_rank = 1

),

final as (

    select
        incident_id,
        release_id,
        method,
        cast(confidence as double) as confidence,
        hours_after_deployment,
        relationship_path,
        'release ' || release_number || ' deployed '
            || cast(round(hours_after_deployment, 1) as varchar) || ' h before incident ' || incident_number
            || ' on ' || relationship_path as evidence
    from best

)

select * from final
