{#- One row per (incident, candidate change): who may have caused the incident, how we know
    (method), how sure we are (confidence) and why (evidence). The formula is documented in
    int_incidents_attributed_to_changes.yml. Inferred candidates come from "as of" joins
    (macro latest_preceding_match), never from a range join, so a hot CI cannot explode the
    pair count: per incident and per (method, touched CI) only the latest change whose window
    opened before the incident and the latest that ended before it are considered (changes tied
    on that time all are, so the result does not depend on the order rows are read in). -#}
{#- Incremental on DuckDB: an incremental build recomputes only the incidents whose candidates can
    differ from the previous version's and keeps the others' rows (macros/attribution_incremental.sql).
    Spark and other engines build the whole table. Nothing here may depend on as_of or the build time. -#}
{{ config(
    materialized=('incremental' if target.type == 'duckdb' else 'table'),
    incremental_strategy='append',
    pre_hook="{{ attribution_incremental_pre_hooks() }}",
    post_hook="{{ attribution_incremental_post_hooks() }}",
) }}
{%- if target.type == 'duckdb' %}
/* depends on this build's fingerprints, which the affected-incident steps read (pre-hooks):
   {{ ref('int_attribution_incident_fingerprints') }}, {{ ref('int_attribution_change_fingerprints') }} */
{%- endif %}
{%- set window_hours = var('attribution_window_hours') -%}
{%- set threshold = var('attribution_confidence_threshold') -%}
{%- set base = var('attribution_base_confidence') -%}
{%- set decay = var('attribution_time_decay') -%}
{#- Called here, not inside the filter macro, so that a unit test's `is_incremental: false` override
    reaches it (dbt overrides only the macros a model calls itself). -#}
{%- set affected_only = is_incremental() -%}
with

changes as (

    select * from {{ ref('stg_canonical__changes') }}

),

incidents as (

    select * from {{ ref('stg_canonical__incidents') }}
    {{ attribution_incident_filter('incident_id', affected_only) }}

),

incident_cis as (

    select * from {{ ref('int_incidents_joined_to_configuration_items') }}
    {{ attribution_incident_filter('incident_id', affected_only) }}

),

incident_links as (

    select * from {{ ref('stg_canonical__incident_links') }}
    {{ attribution_incident_filter('incident_id', affected_only) }}

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

-- explicit causes ------------------------------------------------------------------------------

change_numbers as (

    select
        change_id,
        source_system,
        lower(number) as number_key
    from changes

),

explicit_references as (

    select
        incident_id,
        source_system,
        caused_by_change_ref as change_ref,
        'explicit_caused_by' as method
    from incidents
    where caused_by_change_ref is not null
    union all
    select
        incident_links.incident_id,
        incident_links.source_system,
        incident_links.target_ref as change_ref,
        'explicit_link' as method
    from incident_links
    where incident_links.kind = 'caused_by'
        and incident_links.target_type = 'change'

),

explicit_candidates_ranked as (

    select
        explicit_references.incident_id,
        change_numbers.change_id,
        explicit_references.method,
        cast(null as {{ dbt.type_string() }}) as relationship_path,
        case explicit_references.method when 'explicit_caused_by' then 0 else 1 end as method_rank,
        row_number() over (
            partition by explicit_references.incident_id, explicit_references.method, explicit_references.change_ref
            order by (change_numbers.source_system = explicit_references.source_system) desc, change_numbers.change_id
        ) as reference_rank
    from explicit_references
    inner join change_numbers
        on change_numbers.number_key = lower(explicit_references.change_ref)

),

explicit_candidates as (

    select
        incident_id,
        change_id,
        method,
        relationship_path,
        method_rank
    from explicit_candidates_ranked
    where reference_rank = 1

),

explicit_candidates_timed as (

    select
        explicit_candidates.*,
        incidents.opened_at as incident_opened_at,
        changes.number as change_number,
        changes.actual_end_at as change_actual_end_at
    from explicit_candidates
    inner join incidents
        on incidents.incident_id = explicit_candidates.incident_id
    inner join changes
        on changes.change_id = explicit_candidates.change_id

),

-- inferred causes ------------------------------------------------------------------------------
-- match levels: 0 same CI, 1 / 2 CI one / two relationships away, 3 same business service only

{#- Keys: the as-of joins and the grouping of the changes' CI touches (21M at 1M changes) run on
    integers, not text ids: a change's change_key and a touched CI's or service's id_key, numbered
    within this build (row_id), and a touch_key that packs (match level, id_key) into one exact
    integer (no hash, so nothing to re-check). Text ids are joined back on the few matches. #}
windowed_changes as {{ cte_materialization(true) }} (

    -- the change can have caused what opens from its actual start (or end) up to
    -- attribution_window_hours after its actual end (or start, while it has no end)
    select
        {{ row_id(['change_id']) }} as change_key,
        change_id,
        number as change_number,
        least(coalesce(actual_start_at, actual_end_at), coalesce(actual_end_at, actual_start_at)) as window_start_at,
        actual_end_at,
        {{ dbt.dateadd('hour', window_hours, 'coalesce(actual_end_at, actual_start_at)') }} as window_end_at
    from changes
    where coalesce(actual_start_at, actual_end_at) is not null

),

touched_ids as (

    -- every CI or service a change can touch (a union: each id once)
    select ci_id as touched_id
    from change_cis
    where ci_id is not null and not coalesce(is_service, false)
    union
    select neighbour_ci_id as touched_id
    from neighbours
    union
    select service_id as touched_id
    from change_services
    where service_id is not null

),

touched_id_keys as {{ cte_materialization(true) }} (

    select
        touched_id,
        {{ row_id(['touched_id']) }} as id_key
    from touched_ids

),

-- a business service the change names is matched at the service level only: every CI of a
-- service is one relationship from the service, so expanding from it would make any incident
-- in the service look like a neighbour of the change
change_ci_keys as (

    select
        windowed_changes.change_key,
        change_cis.ci_id,
        change_cis.ci_name,
        touched_id_keys.id_key
    from change_cis
    inner join windowed_changes
        on windowed_changes.change_id = change_cis.change_id
    inner join touched_id_keys
        on touched_id_keys.touched_id = change_cis.ci_id
    where change_cis.ci_id is not null and not coalesce(change_cis.is_service, false)

),

neighbour_keys as (

    select
        neighbours.ci_id,
        neighbours.hops,
        neighbours.relationship_path,
        touched_id_keys.id_key as neighbour_key
    from neighbours
    inner join touched_id_keys
        on touched_id_keys.touched_id = neighbours.neighbour_ci_id

),

change_service_keys as (

    select
        windowed_changes.change_key,
        change_services.service_name,
        touched_id_keys.id_key
    from change_services
    inner join windowed_changes
        on windowed_changes.change_id = change_services.change_id
    inner join touched_id_keys
        on touched_id_keys.touched_id = change_services.service_id

),

change_touches as (

    -- what a change touches, once per way it touches it: its CIs (level 0), their neighbours (1, 2)
    -- and its services (3)
    select
        change_key,
        0 as match_level,
        id_key
    from change_ci_keys
    union all
    select
        change_ci_keys.change_key,
        neighbour_keys.hops as match_level,
        neighbour_keys.neighbour_key as id_key
    from change_ci_keys
    inner join neighbour_keys
        on neighbour_keys.ci_id = change_ci_keys.ci_id
    union all
    select
        change_key,
        3 as match_level,
        id_key
    from change_service_keys

),

incident_keys as {{ cte_materialization(true) }} (

    -- an integer key per incident with an opening time, and its CI's and service's integer keys (null:
    -- no change touches it), for the as-of joins' narrow left side (text ids held for every incident
    -- made the model spill more to disk; DECISIONLOG D53)
    select
        {{ row_id(['incident_cis.incident_id']) }} as incident_key,
        incident_cis.incident_id,
        incidents.opened_at,
        ci_keys.id_key as ci_key,
        service_keys.id_key as service_key
    from incident_cis
    inner join incidents
        on incidents.incident_id = incident_cis.incident_id
    left join touched_id_keys as ci_keys
        on ci_keys.touched_id = incident_cis.ci_id
    left join touched_id_keys as service_keys
        on service_keys.touched_id = incident_cis.service_id
    where incidents.opened_at is not null

),

incident_levels as (

    -- the incident's CI at levels 0-2, its service at level 3, as one match key (its level and id are
    -- told from it after the match: the as-of joins sort and carry every row); an id no change
    -- touches cannot match and is left out
    select
        incident_key,
        opened_at,
        {{ touch_key('match_level', 'id_key') }} as match_key
    from (
        select
            incident_keys.incident_key,
            incident_keys.opened_at,
            levels.match_level,
            case when levels.match_level = 3 then incident_keys.service_key else incident_keys.ci_key end as id_key
        from incident_keys
        cross join (
            values (0), (1), (2), (3)
        ) as levels (match_level)
    ) as keyed
    where id_key is not null

),

change_touches_timed as (

    -- one row per (change, level, touched id), without the relationship paths (the paths of the
    -- few touches that match an incident are looked up after the match: matched_touch_paths); only
    -- the touches on a key some incident has: the as-of joins match nothing else (at 1M, 11M of 21M
    -- touches in an incremental build, and the grouping and the as-of joins take half the time). The
    -- keys are made distinct before the semi join, so its hash table holds 0.27M keys instead of
    -- the 14M incident levels at 1M (DECISIONLOG D53)
    select
        deduplicated.change_key,
        {{ touch_key('deduplicated.match_level', 'deduplicated.id_key') }} as touch_key,
        windowed_changes.window_start_at,
        windowed_changes.actual_end_at,
        windowed_changes.window_end_at
    from (
        select change_key, match_level, id_key
        from change_touches
        where {{ touch_key('match_level', 'id_key') }} in (select distinct match_key from incident_levels)
        group by 1, 2, 3
    ) as deduplicated
    inner join windowed_changes
        on windowed_changes.change_key = deduplicated.change_key

),

-- the as-of joins run on narrow integer inputs: the touch's key and time, and what the match needs

touches_by_window_start as (

    select
        touch_key,
        window_start_at,
        change_key,
        window_end_at
    from change_touches_timed

),

touches_by_actual_end as (

    select
        touch_key,
        actual_end_at,
        change_key,
        window_end_at
    from change_touches_timed
    where actual_end_at is not null

),

latest_started as (

    {{ latest_preceding_match(
        'incident_levels', 'touches_by_window_start',
        [['match_key', 'touch_key']],
        'opened_at', 'window_start_at',
        ['change_key', 'window_end_at'],
        ['incident_key', 'match_key'],
        window_hours * 4
    ) }}

),

latest_ended as (

    {{ latest_preceding_match(
        'incident_levels', 'touches_by_actual_end',
        [['match_key', 'touch_key']],
        'opened_at', 'actual_end_at',
        ['change_key', 'window_end_at'],
        ['incident_key', 'match_key'],
        window_hours
    ) }}

),

matched_touches as (

    -- a match counts up to the touch's window end; a touch matched both ways is one match
    select
        incident_key,
        {{ touch_key_level('match_key') }} as match_level,
        {{ touch_key_id('match_key') }} as id_key,
        change_key
    from (
        select incident_key, match_key, change_key from latest_started
        where opened_at <= window_end_at
        union
        select incident_key, match_key, change_key from latest_ended
        where opened_at <= window_end_at
    ) as matched_either_way

),

inferred_matches as (

    select
        incident_keys.incident_id,
        matched_touches.change_key,
        matched_touches.match_level,
        matched_touches.id_key,
        incident_keys.opened_at as incident_opened_at
    from matched_touches
    inner join incident_keys
        on incident_keys.incident_key = matched_touches.incident_key

),

matched_touch_keys as (

    select distinct
        change_key,
        match_level,
        id_key
    from inferred_matches

),

matched_touch_paths as (

    -- the relationship path of each matched touch (several paths keep the first), looked up from the
    -- matched keys: a CI of the change (level 0), a neighbour of one of its CIs at that many hops (1, 2),
    -- a service it names (3). Forming every touch again and joining the matches to them took ~20-48 s
    -- at 1M changes (21M touches with their path texts); these lookups read ~1.3M matched keys.
    select
        change_key,
        match_level,
        id_key,
        min(relationship_path) as relationship_path
    from (
        select
            matched_touch_keys.change_key,
            matched_touch_keys.match_level,
            matched_touch_keys.id_key,
            change_ci_keys.ci_name as relationship_path
        from matched_touch_keys
        inner join change_ci_keys
            on change_ci_keys.change_key = matched_touch_keys.change_key
            and change_ci_keys.id_key = matched_touch_keys.id_key
        where matched_touch_keys.match_level = 0
        union all
        select
            matched_touch_keys.change_key,
            matched_touch_keys.match_level,
            matched_touch_keys.id_key,
            neighbour_keys.relationship_path
        from matched_touch_keys
        inner join change_ci_keys
            on change_ci_keys.change_key = matched_touch_keys.change_key
        inner join neighbour_keys
            on neighbour_keys.ci_id = change_ci_keys.ci_id
            and neighbour_keys.hops = matched_touch_keys.match_level
            and neighbour_keys.neighbour_key = matched_touch_keys.id_key
        where matched_touch_keys.match_level in (1, 2)
        union all
        select
            matched_touch_keys.change_key,
            matched_touch_keys.match_level,
            matched_touch_keys.id_key,
            change_service_keys.service_name as relationship_path
        from matched_touch_keys
        inner join change_service_keys
            on change_service_keys.change_key = matched_touch_keys.change_key
            and change_service_keys.id_key = matched_touch_keys.id_key
        where matched_touch_keys.match_level = 3
    ) as matched_paths
    group by 1, 2, 3

),

inferred_candidates as (

    select
        inferred_matches.incident_id,
        windowed_changes.change_id,
        case inferred_matches.match_level
            when 0 then 'inferred_same_ci'
            when 1 then 'inferred_related_ci_1'
            when 2 then 'inferred_related_ci_2'
            else 'inferred_same_service'
        end as method,
        matched_touch_paths.relationship_path,
        inferred_matches.match_level + 2 as method_rank,
        inferred_matches.incident_opened_at,
        windowed_changes.change_number,
        windowed_changes.actual_end_at as change_actual_end_at
    from inferred_matches
    inner join windowed_changes
        on windowed_changes.change_key = inferred_matches.change_key
    inner join matched_touch_paths
        on matched_touch_paths.change_key = inferred_matches.change_key
        and matched_touch_paths.match_level = inferred_matches.match_level
        and matched_touch_paths.id_key = inferred_matches.id_key

),

-- scoring --------------------------------------------------------------------------------------

all_candidates as (

    select * from explicit_candidates_timed
    union all
    select * from inferred_candidates

),

best_per_pair as (

    -- one row per (incident, change): the strongest method (lowest rank)
    select
        incident_id,
        change_id,
        case min(method_rank)
            when 0 then 'explicit_caused_by'
            when 1 then 'explicit_link'
            when 2 then 'inferred_same_ci'
            when 3 then 'inferred_related_ci_1'
            when 4 then 'inferred_related_ci_2'
            else 'inferred_same_service'
        end as method,
        nullif({{ value_at_min("coalesce(relationship_path, '')", 'method_rank') }}, '') as relationship_path,
        min(method_rank) as method_rank,
        {{ any_value_of('incident_opened_at') }} as incident_opened_at,
        {{ any_value_of('change_number') }} as change_number,
        {{ any_value_of('change_actual_end_at') }} as change_actual_end_at
    from all_candidates
    group by 1, 2

),

timed as (

    select
        *,
        {{ hours_between('change_actual_end_at', 'incident_opened_at') }} as hours_after_change
    from best_per_pair

),

{#- An inferred candidate's confidence: its method's base, decayed with the hours since the change. -#}
{%- set decayed_confidence -%}
    case method
        when 'inferred_same_ci' then {{ base['inferred_same_ci'] }}
        when 'inferred_related_ci_1' then {{ base['inferred_related_ci_1'] }}
        when 'inferred_related_ci_2' then {{ base['inferred_related_ci_2'] }}
        else {{ base['inferred_same_service'] }}
    end
    * (1 - {{ decay }} * least(greatest(coalesce(hours_after_change, 0), 0) / {{ window_hours }}.0, 1))
{%- endset %}

scored as (

    select
        *,
        case
            when method like 'explicit%' then 1.0
            else {{ round_half_up(decayed_confidence, 4) }}
        end as confidence
    from timed

),

counted as (

    select
        *,
        method like 'explicit%' or confidence >= {{ threshold }} as is_counted
    from scored

),

ranked as (

    select
        *,
        is_counted and row_number() over (
            partition by incident_id
            order by
                is_counted desc,
                confidence desc,
                coalesce(change_actual_end_at <= incident_opened_at, false) desc,
                change_actual_end_at desc nulls last,
                change_id desc
        ) = 1 as is_primary
    from counted

),

described as (

    select
        incident_id,
        change_id,
        method,
        cast(confidence as double) as confidence,
        hours_after_change,
        relationship_path,
        is_counted,
        is_primary,
        case
            when method = 'explicit_caused_by'
                then 'the incident names ' || change_number || ' as its cause (caused_by)'
            when method = 'explicit_link'
                then 'an explicit "caused by" link from the incident to ' || change_number
            else
                case method
                    when 'inferred_same_ci' then 'same CI ' || relationship_path
                    when 'inferred_related_ci_1' then 'related CI, 1 relationship away: ' || relationship_path
                    when 'inferred_related_ci_2' then 'related CI, 2 relationships away: ' || relationship_path
                    else 'same service ' || relationship_path
                end
                || ', opened '
                || case
                    when change_actual_end_at is null or incident_opened_at < change_actual_end_at
                        then 'during implementation of ' || change_number
                    else {{ number_to_text('hours_after_change', 1) }} || ' h after actual end of ' || change_number
                end
        end as evidence,
        change_number,
        incident_opened_at,
        change_actual_end_at
    from ranked

)

select * from described
