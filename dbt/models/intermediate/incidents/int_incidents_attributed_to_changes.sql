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

change_attribution_windows as (

    -- the change can have caused what opens from its actual start (or end) up to
    -- attribution_window_hours after its actual end (or start, while it has no end)
    select
        change_id,
        number as change_number,
        least(coalesce(actual_start_at, actual_end_at), coalesce(actual_end_at, actual_start_at)) as window_start_at,
        actual_end_at,
        {{ dbt.dateadd('hour', window_hours, 'coalesce(actual_end_at, actual_start_at)') }} as window_end_at
    from changes
    where coalesce(actual_start_at, actual_end_at) is not null

),

change_touches as {{ cte_materialization(false) }} (

    select
        change_cis.change_id,
        0 as match_level,
        change_cis.ci_id as touched_id,
        change_cis.ci_name as relationship_path
    from change_cis
    -- a business service the change names is matched at the service level only: every CI of a
    -- service is one relationship from the service, so expanding from it would make any incident
    -- in the service look like a neighbour of the change
    where change_cis.ci_id is not null and not coalesce(change_cis.is_service, false)
    union all
    select
        change_cis.change_id,
        neighbours.hops as match_level,
        neighbours.neighbour_ci_id as touched_id,
        neighbours.relationship_path
    from change_cis
    inner join neighbours
        on neighbours.ci_id = change_cis.ci_id
    where change_cis.ci_id is not null and not coalesce(change_cis.is_service, false)
    union all
    select
        change_id,
        3 as match_level,
        service_id as touched_id,
        service_name as relationship_path
    from change_services

),

change_touches_deduplicated as (

    -- one row per (change, level, touched CI or service), without the relationship paths: grouping
    -- the 21M touches of 1M changes with their path texts needed over 4 GB; the paths of the few
    -- touches that match an incident are looked up after the match (matched_touch_paths)
    select
        change_id,
        match_level,
        touched_id
    from change_touches
    group by 1, 2, 3

),

change_touches_timed as {{ cte_materialization(true) }} (

    select
        -- a row id for the as-of joins' narrow inputs, only joined back within this build (numbered
        -- in key order where the engine needs an order; the as-of join returns every touch tied on
        -- the matched time, so which number a touch gets never changes the result)
        {{ row_id([
            'change_touches_deduplicated.change_id',
            'change_touches_deduplicated.match_level',
            'change_touches_deduplicated.touched_id',
        ]) }} as touch_id,
        change_touches_deduplicated.*,
        {{ match_key(['change_touches_deduplicated.match_level', 'change_touches_deduplicated.touched_id']) }} as touch_key,
        change_attribution_windows.change_number,
        change_attribution_windows.window_start_at,
        change_attribution_windows.actual_end_at,
        change_attribution_windows.window_end_at
    from change_touches_deduplicated
    inner join change_attribution_windows
        on change_attribution_windows.change_id = change_touches_deduplicated.change_id

),

-- the as-of joins run on narrow inputs (key, time, row id); details are joined back after

touches_by_window_start as (

    select
        touch_key,
        window_start_at,
        touch_id
    from change_touches_timed

),

touches_by_actual_end as (

    select
        touch_key,
        actual_end_at,
        touch_id
    from change_touches_timed
    where actual_end_at is not null

),

incident_matches as (

    select
        incident_cis.incident_id,
        incidents.opened_at,
        levels.match_level,
        case when levels.match_level = 3 then incident_cis.service_id else incident_cis.ci_id end as match_id
    from incident_cis
    inner join incidents
        on incidents.incident_id = incident_cis.incident_id
    cross join (
        values (0), (1), (2), (3)
    ) as levels (match_level)
    where incidents.opened_at is not null

),

incident_levels as (

    select
        incident_id,
        match_id,
        opened_at,
        {{ match_key(['match_level', 'match_id']) }} as match_key
    from incident_matches
    where match_id is not null

),

latest_started as (

    {{ latest_preceding_match(
        'incident_levels', 'touches_by_window_start',
        [['match_key', 'touch_key']],
        'opened_at', 'window_start_at',
        ['touch_id'],
        ['incident_id', 'match_key'],
        window_hours * 4
    ) }}

),

latest_ended as (

    {{ latest_preceding_match(
        'incident_levels', 'touches_by_actual_end',
        [['match_key', 'touch_key']],
        'opened_at', 'actual_end_at',
        ['touch_id'],
        ['incident_id', 'match_key'],
        window_hours
    ) }}

),

matched_touches as (

    select incident_id, match_id, opened_at, touch_id from latest_started
    union all
    select incident_id, match_id, opened_at, touch_id from latest_ended

),

inferred_matches as (

    -- re-check the real key (a hash collision can only drop a match) and the window's end
    select
        matched_touches.incident_id,
        change_touches_timed.change_id,
        change_touches_timed.match_level,
        change_touches_timed.touched_id,
        matched_touches.opened_at as incident_opened_at,
        change_touches_timed.change_number,
        change_touches_timed.actual_end_at as change_actual_end_at
    from matched_touches
    inner join change_touches_timed
        on change_touches_timed.touch_id = matched_touches.touch_id
    where matched_touches.opened_at <= change_touches_timed.window_end_at
        and matched_touches.match_id = change_touches_timed.touched_id

),

matched_touch_keys as (

    select distinct
        change_id,
        match_level,
        touched_id
    from inferred_matches

),

matched_touch_paths as (

    -- the relationship path of each matched touch; several paths keep the first
    select
        change_touches.change_id,
        change_touches.match_level,
        change_touches.touched_id,
        min(change_touches.relationship_path) as relationship_path
    from change_touches
    inner join matched_touch_keys
        on matched_touch_keys.change_id = change_touches.change_id
        and matched_touch_keys.match_level = change_touches.match_level
        and matched_touch_keys.touched_id = change_touches.touched_id
    group by 1, 2, 3

),

inferred_candidates as (

    select
        inferred_matches.incident_id,
        inferred_matches.change_id,
        case inferred_matches.match_level
            when 0 then 'inferred_same_ci'
            when 1 then 'inferred_related_ci_1'
            when 2 then 'inferred_related_ci_2'
            else 'inferred_same_service'
        end as method,
        matched_touch_paths.relationship_path,
        inferred_matches.match_level + 2 as method_rank,
        inferred_matches.incident_opened_at,
        inferred_matches.change_number,
        inferred_matches.change_actual_end_at
    from inferred_matches
    inner join matched_touch_paths
        on matched_touch_paths.change_id = inferred_matches.change_id
        and matched_touch_paths.match_level = inferred_matches.match_level
        and matched_touch_paths.touched_id = inferred_matches.touched_id

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
