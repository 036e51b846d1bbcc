{#- One row per incident that has no primary cause change and no explicit release link, but
    opened within the attribution window after a release's deployment on a CI (or a related CI,
    or a service) of one of its member changes: the release inferred as its cause, with the same
    methods, confidence formula and threshold as int_incidents_attributed_to_changes, against the
    release's deployment time (released_at, else its member changes' last actual end). Only
    counted candidates (confidence >= threshold) are kept; per incident the best one wins. An
    "as of" join (macro latest_preceding_match) keeps hot CIs linear. Only the match levels whose
    base confidence reaches the threshold are walked (a candidate's confidence never exceeds its
    base): with the defaults same CI and 1 hop; 2-hop neighbours and services, which can never
    count here, would multiply the release x CI pairs (out of memory at 1M changes). -#}
{%- set window_hours = var('attribution_window_hours') -%}
{%- set threshold = var('attribution_confidence_threshold') -%}
{%- set base = var('attribution_base_confidence') -%}
{%- set decay = var('attribution_time_decay') -%}
{%- set level_methods = ['inferred_same_ci', 'inferred_related_ci_1', 'inferred_related_ci_2', 'inferred_same_service'] -%}
{%- set levels = [] -%}
{%- for method in level_methods -%}
    {%- if base[method] >= threshold -%}{%- do levels.append(loop.index0) -%}{%- endif -%}
{%- endfor -%}
{%- set hops = levels | select('in', [1, 2]) | list -%}
with

release_deployments as (

    -- a release's deployment time, defined once (int_releases_joined_to_member_changes)
    select * from {{ ref('int_releases_joined_to_member_changes') }}

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

release_member_cis as (

    -- the CIs of the changes that are in a release (not of every change: neighbours multiply them).
    -- As in int_incidents_attributed_to_changes, a business service a change names is matched at
    -- the service level only: every CI of a service is one relationship from it, so expanding from
    -- it would make any incident in the service a neighbour of the release
    select distinct
        change_releases.release_id,
        change_cis.ci_id,
        change_cis.ci_name
    from change_releases
    inner join change_cis
        on change_cis.change_id = change_releases.change_id
    where change_cis.ci_id is not null
        and not coalesce(change_cis.is_service, false)

),

release_touches as (

    select distinct
        touches.release_id,
        touches.match_level,
        touches.touched_id,
        touches.relationship_path
    from (
        select
            release_id,
            0 as match_level,
            ci_id as touched_id,
            ci_name as relationship_path
        from release_member_cis
        where {{ 'true' if 0 in levels else 'false' }}
        union all
        select
            release_member_cis.release_id,
            neighbours.hops as match_level,
            neighbours.neighbour_ci_id as touched_id,
            neighbours.relationship_path
        from release_member_cis
        inner join neighbours
            on neighbours.ci_id = release_member_cis.ci_id
        where neighbours.hops in ({{ (hops or [-1]) | join(', ') }})
        union all
        select
            change_releases.release_id,
            3 as match_level,
            change_services.service_id as touched_id,
            change_services.service_name as relationship_path
        from change_releases
        inner join change_services
            on change_services.change_id = change_releases.change_id
        where {{ 'true' if 3 in levels else 'false' }}
    ) as touches

),

release_touches_timed as (

    select
        row_number() over (
            order by release_touches.release_id, release_touches.match_level, release_touches.touched_id
        ) as touch_id,
        release_touches.release_id,
        release_touches.match_level,
        release_touches.touched_id,
        {{ match_key(['release_touches.match_level', 'release_touches.touched_id']) }} as touch_key,
        min(release_touches.relationship_path) as relationship_path,
        max(release_deployments.release_number) as release_number,
        max(release_deployments.deployed_at) as deployed_at
    from release_touches
    inner join release_deployments
        on release_deployments.release_id = release_touches.release_id
    where release_deployments.deployed_at is not null
    group by release_touches.release_id, release_touches.match_level, release_touches.touched_id

),

-- the as-of join runs on narrow inputs (key, time, row id); details are joined back after

touches_by_deployment as (

    select
        touch_id,
        touch_key,
        deployed_at
    from release_touches_timed

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

incident_open as (

    -- incidents without a cause yet, with their CI and service (an anti-join, then one row per level
    -- below: DuckDB plans the as-of join far better on this shape than on a cross join of levels)
    select
        incidents.incident_id,
        incidents.opened_at,
        incident_cis.ci_id,
        incident_cis.service_id
    from incidents
    inner join incident_cis
        on incident_cis.incident_id = incidents.incident_id
    where incidents.opened_at is not null
        and not exists (
            select 1
            from already_caused
            where already_caused.incident_id = incidents.incident_id
        )

),

incident_levels as (

    {%- for level in levels %}
    select
        incident_id,
        opened_at,
        {{ level }} as match_level,
        {{ 'service_id' if level == 3 else 'ci_id' }} as match_id
    from incident_open
    where {{ 'service_id' if level == 3 else 'ci_id' }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- else %}
    select incident_id, opened_at, -1 as match_level, ci_id as match_id
    from incident_open
    where false
    {%- endfor %}

),

incident_keys as (

    select
        incident_id,
        opened_at,
        match_level,
        match_id,
        {{ match_key(['match_level', 'match_id']) }} as match_key
    from incident_levels

),

latest_deployed_keys as (

    {{ latest_preceding_match(
        'incident_keys', 'touches_by_deployment',
        [['match_key', 'touch_key']],
        'opened_at', 'deployed_at',
        ['touch_id'],
        ['incident_id', 'match_key'],
        window_hours
    ) }}

),

latest_deployed as (

    -- the real columns re-checked: a hash collision of the keys can only drop a match
    select
        latest_deployed_keys.incident_id,
        incidents.number as incident_number,
        latest_deployed_keys.opened_at,
        latest_deployed_keys.match_level,
        release_touches_timed.release_id,
        release_touches_timed.release_number,
        release_touches_timed.relationship_path,
        release_touches_timed.deployed_at
    from latest_deployed_keys
    inner join release_touches_timed
        on release_touches_timed.touch_id = latest_deployed_keys.touch_id
        and release_touches_timed.match_level = latest_deployed_keys.match_level
        and release_touches_timed.touched_id = latest_deployed_keys.match_id
    inner join incidents
        on incidents.incident_id = latest_deployed_keys.incident_id

),

{#- An inferred candidate's confidence: its match level's base, decayed with the hours since the deployment. -#}
{%- set decayed_confidence -%}
    case match_level
        when 0 then {{ base['inferred_same_ci'] }}
        when 1 then {{ base['inferred_related_ci_1'] }}
        when 2 then {{ base['inferred_related_ci_2'] }}
        else {{ base['inferred_same_service'] }}
    end
    * (1 - {{ decay }} * least(greatest({{ hours_between('deployed_at', 'opened_at') }}, 0) / {{ window_hours }}.0, 1))
{%- endset %}

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
        {{ round_half_up(decayed_confidence, 4) }} as confidence
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
            || {{ number_to_text('hours_after_deployment', 1) }} || ' h before incident ' || incident_number
            || ' on ' || relationship_path as evidence
    from best

)

select * from final
