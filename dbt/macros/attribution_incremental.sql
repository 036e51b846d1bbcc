{#- Incremental change attribution (DuckDB only; DECISIONLOG "Incremental builds"). An incremental
    build starts from a copy of the published version; int_incidents_attributed_to_changes then
    recomputes only the incidents whose candidates can differ from the previous version's, found by
    comparing this build's attribution inputs with the previous version's (attached read-only as
    catalog changeboard_previous), never by trusting raw load times: a CMDB edit, a late or
    superseded record and a replaced ingest run all show up as a difference. Every other incident
    keeps its rows. The fingerprint models (int_attribution_*_fingerprints, parents of the attribution
    on DuckDB) hold this build's inputs: the steps below compare them with the previous version's, and
    the next build compares its own with them. -#}

{% macro attribution_previous_version() -%}
    {#- The previous published version's file, set by the build only for an incremental build. -#}
    {{ return(env_var('CHANGEBOARD_PREVIOUS_VERSION', '')) }}
{%- endmacro %}

{% macro attribution_previous(relation) -%}
    {#- The same relation in the previous version (attached as changeboard_previous). -#}
    changeboard_previous.{{ relation.schema }}.{{ relation.identifier }}
{%- endmacro %}

{% macro attribution_affected_relation() -%}
    {#- The incidents an incremental build recomputed (kept in the version it publishes). -#}
    {{ this.schema }}.{{ this.identifier }}__affected
{%- endmacro %}

{% macro attribution_incremental_pre_hooks() -%}
    {#- Run as the model's pre-hooks: attach the previous version, list the affected incidents,
        delete their rows (the model then appends theirs). Without a previous version (a dbt run by
        hand on an existing file) every row is recomputed. -#}
    {%- if is_incremental() -%}
        {%- if attribution_previous_version() -%}
            attach if not exists '{{ attribution_previous_version() }}' as changeboard_previous (read_only);
            {{ attribution_affected_incidents_steps() }}
            delete from {{ this }} where incident_id in (select incident_id from {{ attribution_affected_relation() }});
        {%- else -%}
            delete from {{ this }};
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro attribution_incremental_post_hooks() -%}
    {#- The list of recomputed incidents stays in the version: what this build recomputed. -#}
    {%- if is_incremental() and attribution_previous_version() -%}
        detach database if exists changeboard_previous;
    {%- endif -%}
{%- endmacro %}

{% macro attribution_incident_filter(incident_column, is_incremental_run) -%}
    {#- In an incremental run: only the affected incidents' rows. -#}
    {%- if is_incremental_run and attribution_previous_version() -%}
        where {{ incident_column }} in (select incident_id from {{ attribution_affected_relation() }})
    {%- endif -%}
{%- endmacro %}

{% macro attribution_incident_fingerprints() -%}
    {#- One row per incident: a hash of everything the attribution reads about it (its source, opening
        time, caused_by reference, caused_by links to changes, CI and service). The incident and its
        CI are one row each (both models' unique tests); the links are many, hashed as a multiset (a
        sum of row hashes with their count: no sort, no string built per row). Its opening time and
        caused_by number key come along: the affected-incident steps read them here instead of
        deduplicating the staged incidents again (null for an incident known only from a link). -#}
    with
    links as (
        select
            incident_id,
            count(*) as link_count,
            sum(hash(source_system, target_ref)) as link_hash_sum
        from {{ ref('stg_canonical__incident_links') }}
        where kind = 'caused_by' and target_type = 'change'
        group by 1
    ),
    own as (
        select
            incidents.incident_id,
            incidents.opened_at,
            lower(incidents.caused_by_change_ref) as caused_by_key,
            hash(incidents.source_system, incidents.opened_at, incidents.caused_by_change_ref, cis.ci_id, cis.service_id)
                as own_hash
        from {{ ref('stg_canonical__incidents') }} as incidents
        left join {{ ref('int_incidents_joined_to_configuration_items') }} as cis
            on cis.incident_id = incidents.incident_id
    )
    select
        coalesce(own.incident_id, links.incident_id) as incident_id,
        hash(own.own_hash, links.link_count, links.link_hash_sum) as fingerprint,
        own.opened_at,
        own.caused_by_key
    from own
    full join links on links.incident_id = own.incident_id
{%- endmacro %}

{% macro attribution_change_fingerprints() -%}
    {#- One row per change: its number and attribution window, and a hash of everything the
        attribution reads about it (number, source, actual times, CIs with names, services; the CIs
        and services hashed as multisets, like the incident's links). -#}
    {%- set window_hours = var('attribution_window_hours') -%}
    with
    cis as (
        select
            change_id,
            count(*) as ci_count,
            sum(hash(ci_id, ci_name, coalesce(is_service, false))) as ci_hash_sum
        from {{ ref('int_changes_joined_to_configuration_items') }}
        group by 1
    ),
    services as (
        select
            change_id,
            count(*) as service_count,
            sum(hash(service_id, service_name)) as service_hash_sum
        from {{ ref('int_changes_joined_to_services') }}
        group by 1
    ),
    changes as (
        select
            change_id,
            lower(number) as number_key,
            least(coalesce(actual_start_at, actual_end_at), coalesce(actual_end_at, actual_start_at)) as window_start_at,
            actual_end_at,
            hash(source_system, number, actual_start_at, actual_end_at) as own
        from {{ ref('stg_canonical__changes') }}
    ),
    ids as (
        select change_id from changes
        union
        select change_id from cis
        union
        select change_id from services
    )
    select
        ids.change_id,
        changes.number_key,
        changes.window_start_at,
        changes.actual_end_at,
        hash(changes.own, cis.ci_count, cis.ci_hash_sum, services.service_count, services.service_hash_sum) as fingerprint
    from ids
    left join changes on changes.change_id = ids.change_id
    left join cis on cis.change_id = ids.change_id
    left join services on services.change_id = ids.change_id
{%- endmacro %}

{% macro attribution_touches_of(change_cis, neighbours, change_services, changes) -%}
    {#- The (change, match level, touched CI or service) rows of the changes in `changes`, as
        int_incidents_attributed_to_changes forms them (change_touches). -#}
    select change_cis.change_id, 0 as match_level, change_cis.ci_id as touched_id
    from {{ change_cis }} as change_cis
    semi join {{ changes }} as c on c.change_id = change_cis.change_id
    where change_cis.ci_id is not null and not coalesce(change_cis.is_service, false)
    union
    select change_cis.change_id, neighbours.hops as match_level, neighbours.neighbour_ci_id as touched_id
    from {{ change_cis }} as change_cis
    semi join {{ changes }} as c on c.change_id = change_cis.change_id
    inner join {{ neighbours }} as neighbours on neighbours.ci_id = change_cis.ci_id
    where change_cis.ci_id is not null and not coalesce(change_cis.is_service, false)
    union
    select change_services.change_id, 3 as match_level, change_services.service_id as touched_id
    from {{ change_services }} as change_services
    semi join {{ changes }} as c on c.change_id = change_services.change_id
{%- endmacro %}

{% macro attribution_neighbour_touches_of(change_cis, side) -%}
    {#- The touches (change, hops, neighbour CI) that a differing neighbour row (side 'new': in this
        build only, 'old': in the previous version only) gives the changes on its CI. -#}
    select change_cis.change_id, d.hops as match_level, d.neighbour_ci_id as touched_id
    from {{ change_cis }} as change_cis
    inner join cb_affected__neighbour_differences as d on d.side = '{{ side }}' and d.ci_id = change_cis.ci_id
    where not coalesce(change_cis.is_service, false)
{%- endmacro %}

{% macro attribution_step(name, sql, kind='table') -%}
    {#- One step of the affected-incident list: a temporary table of this connection, or a temporary
        view for a large step that only a later step reads (its rows are not held). -#}
    create or replace temp {{ kind }} {{ name }} as {{ sql }};
{%- endmacro %}

{% macro attribution_affected_incidents_steps() -%}
    {#- Statements that write the incidents whose candidate changes can differ from the previous
        version's into attribution_affected_relation():
        1. their own inputs differ (incident fingerprint);
        2. they name, explicitly, the old or new number of a changed change;
        3. the previous version attributed them to a changed change;
        4. they sit on a CI / service a changed change touches (before or after the change), opened
           at or after that touch's window start (or actual end), before the next start (end) of an
           unchanged touch on the same CI, and no later than the window end of the changed touch or
           of the unchanged touch it hides or uncovers: the as-of joins pick the latest preceding
           touch, so a touch changes nothing for incidents behind a later unchanged one, and a
           picked touch counts only up to its window end.
        A change is changed when its fingerprint differs; a touch is changed when it belongs to a
        changed change or to a neighbour row that differs (a CMDB relationship or a CI name on the
        path changed): only those touches, not every touch of the changes on that CI (a relationship
        edit on a busy CI marked 124k of 1.15M changes changed at 1M, and nearly every change was
        then read as an unchanged neighbour).
        One temporary table per step, not one query: as one statement of common table expressions
        the fingerprints of millions of incidents, the neighbour comparison and the incident keys
        were held in memory at once (the 1M-change build ran out of its 3 GB there, D41); each step
        now ends before the next starts, and the last ones probe the incidents with the few changed
        touches instead of joining every incident's keys. -#}
    {%- set change_cis = ref('int_changes_joined_to_configuration_items') -%}
    {%- set neighbours = ref('int_configuration_items_joined_to_neighbours') -%}
    {%- set change_services = ref('int_changes_joined_to_services') -%}
    {%- set incident_cis = ref('int_incidents_joined_to_configuration_items') -%}
    {%- set incident_fp = ref('int_attribution_incident_fingerprints') -%}
    {%- set prev_change_cis = attribution_previous(change_cis) -%}
    {%- set prev_neighbours = attribution_previous(neighbours) -%}
    {%- set prev_change_services = attribution_previous(change_services) -%}
    {%- set window_hours = var('attribution_window_hours') -%}
    {%- set touch_columns -%}
        t.match_level, t.touched_id, fp.window_start_at, fp.actual_end_at,
        coalesce(fp.actual_end_at, fp.window_start_at) + interval ({{ window_hours }}) hour as window_end_at
    {%- endset -%}

    {{ attribution_step('cb_affected__changed_incidents', "
        select coalesce(n.incident_id, p.incident_id) as incident_id
        from " ~ incident_fp ~ " as n
        full join changeboard_previous." ~ this.schema ~ ".int_attribution_incident_fingerprints as p
            on p.incident_id = n.incident_id
        where n.fingerprint is distinct from p.fingerprint
    ") }}
    {{ attribution_step('cb_affected__new_change_fp', "select * from " ~ ref('int_attribution_change_fingerprints')) }}
    {{ attribution_step('cb_affected__prev_change_fp',
        "select * from changeboard_previous." ~ this.schema ~ ".int_attribution_change_fingerprints") }}
    {#- the neighbour rows that differ: a CMDB relationship or a CI name on the path changed -#}
    {{ attribution_step('cb_affected__neighbour_differences', "
        select 'new' as side, ci_id, neighbour_ci_id, hops from (
            select ci_id, neighbour_ci_id, hops, relationship_path from " ~ neighbours ~ "
            except all
            select ci_id, neighbour_ci_id, hops, relationship_path from " ~ prev_neighbours ~ "
        )
        union all
        select 'old' as side, ci_id, neighbour_ci_id, hops from (
            select ci_id, neighbour_ci_id, hops, relationship_path from " ~ prev_neighbours ~ "
            except all
            select ci_id, neighbour_ci_id, hops, relationship_path from " ~ neighbours ~ "
        )
    ") }}
    {{ attribution_step('cb_affected__changed_changes', "
        select coalesce(n.change_id, p.change_id) as change_id
        from cb_affected__new_change_fp as n
        full join cb_affected__prev_change_fp as p on p.change_id = n.change_id
        where n.fingerprint is distinct from p.fingerprint
    ") }}
    {{ attribution_step('cb_affected__changed_numbers', "
        select number_key from cb_affected__new_change_fp semi join cb_affected__changed_changes using (change_id)
        union
        select number_key from cb_affected__prev_change_fp semi join cb_affected__changed_changes using (change_id)
    ") }}
    {#- every touch of a changed change, before and after, and the touches that a differing
        neighbour row adds or removes for an unchanged change (its other touches stay as they were) -#}
    {{ attribution_step('cb_affected__changed_touches', "
        select 'new' as side, t.change_id, " ~ touch_columns ~ "
        from (" ~ attribution_touches_of(change_cis, neighbours, change_services, 'cb_affected__changed_changes') ~ ") as t
        inner join cb_affected__new_change_fp as fp on fp.change_id = t.change_id
        union
        select 'old' as side, t.change_id, " ~ touch_columns ~ "
        from (" ~ attribution_touches_of(prev_change_cis, prev_neighbours, prev_change_services, 'cb_affected__changed_changes') ~ ") as t
        inner join cb_affected__prev_change_fp as fp on fp.change_id = t.change_id
        union
        select 'new' as side, t.change_id, " ~ touch_columns ~ "
        from (" ~ attribution_neighbour_touches_of(change_cis, 'new') ~ ") as t
        inner join cb_affected__new_change_fp as fp on fp.change_id = t.change_id
        union
        select 'old' as side, t.change_id, " ~ touch_columns ~ "
        from (" ~ attribution_neighbour_touches_of(prev_change_cis, 'old') ~ ") as t
        inner join cb_affected__prev_change_fp as fp on fp.change_id = t.change_id
    ") }}
    {#- each changed key (match level, touched CI or service) numbered: the steps below join, group
        and order millions of unchanged touches on one integer instead of two columns with a text id -#}
    {{ attribution_step('cb_affected__changed_keys', "
        select match_level, touched_id, row_number() over () as key_id
        from (select distinct match_level, touched_id from cb_affected__changed_touches)
    ") }}
    {#- this build's touches on a changed key that are not changed touches (candidates for the
        next touch); the neighbour rows filtered by the keys before they meet the changes' CIs.
        A change that reaches a key by two paths appears twice: the regions below take the nearest
        time on each side, which a repeated row does not move, so no distinct (it sorted 19M rows) -#}
    {#- a view: at 1M changes a 1 % delta with five CMDB edits puts millions of unchanged touches on
        the changed keys, which as a temporary table held 1.35 GB of DuckDB's 3GB until the model's
        transaction ended; the regions step reads them through its as-of joins instead -#}
    {{ attribution_step('cb_affected__unchanged_touches', "
        select t.key_id, fp.window_start_at, fp.actual_end_at,
        coalesce(fp.actual_end_at, fp.window_start_at) + interval (" ~ window_hours ~ ") hour as window_end_at
        from (
            select change_cis.change_id, k.key_id
            from " ~ change_cis ~ " as change_cis
            inner join cb_affected__changed_keys as k on k.match_level = 0 and k.touched_id = change_cis.ci_id
            where not coalesce(change_cis.is_service, false)
            union all
            select change_cis.change_id, neighbours.key_id
            from " ~ change_cis ~ " as change_cis
            inner join (
                select n.ci_id, k.key_id from " ~ neighbours ~ " as n
                inner join cb_affected__changed_keys as k on k.match_level = n.hops and k.touched_id = n.neighbour_ci_id
            ) as neighbours on neighbours.ci_id = change_cis.ci_id
            where not coalesce(change_cis.is_service, false)
            union all
            select change_services.change_id, k.key_id
            from " ~ change_services ~ " as change_services
            inner join cb_affected__changed_keys as k on k.match_level = 3 and k.touched_id = change_services.service_id
        ) as t
        anti join (
            select c.change_id, k.key_id
            from cb_affected__changed_touches as c
            inner join cb_affected__changed_keys as k using (match_level, touched_id)
            where c.side = 'new'
        ) as c
            on c.change_id = t.change_id and c.key_id = t.key_id
        inner join cb_affected__new_change_fp as fp on fp.change_id = t.change_id
    ", kind='view') }}
    {#- start regions: from the changed touch's start until the next unchanged start, and no later
        than the window end of the changed touch or of the unchanged touch it hides (or uncovers);
        end regions: an unchanged touch that ended before it ended no later, so its window ends no later -#}
    {{ attribution_step('cb_affected__regions', "
        with changed as (
            select k.key_id, c.match_level, c.touched_id, c.window_start_at, c.actual_end_at, c.window_end_at
            from cb_affected__changed_touches as c
            inner join cb_affected__changed_keys as k using (match_level, touched_id)
        ),
        unchanged_start_groups as (
            select key_id, window_start_at, max(window_end_at) as window_end_at
            from cb_affected__unchanged_touches
            where window_start_at is not null
            group by all
        )
        select
            c.match_level,
            c.touched_id,
            c.window_start_at as region_start,
            next_touch.window_start_at as region_end,
            greatest(c.window_end_at, coalesce(hidden.window_end_at, c.window_end_at)) as region_last
        from (select * from changed where window_start_at is not null) as c
        asof left join unchanged_start_groups as next_touch
            on next_touch.key_id = c.key_id and next_touch.window_start_at > c.window_start_at
        asof left join unchanged_start_groups as hidden
            on hidden.key_id = c.key_id and hidden.window_start_at <= c.window_start_at
        union all
        select
            c.match_level,
            c.touched_id,
            c.actual_end_at as region_start,
            next_touch.actual_end_at as region_end,
            c.window_end_at as region_last
        from (select * from changed where actual_end_at is not null) as c
        asof left join (
            select key_id, actual_end_at from cb_affected__unchanged_touches where actual_end_at is not null
        ) as next_touch
            on next_touch.key_id = c.key_id and next_touch.actual_end_at > c.actual_end_at
    ") }}
    {#- the regions of each CI (levels 0-2) or service (level 3) merged into disjoint spans
        [span_start, span_end], both ends included: an incident is in a region when opened at or after
        its start, before its end (timestamps count microseconds: before the end is at most one
        microsecond before it) and no later than its last time -#}
    {{ attribution_step('cb_affected__spans', "
        with bounded as (
            select
                match_level = 3 as on_service,
                touched_id,
                region_start as span_start,
                least(coalesce(region_end - interval 1 microsecond, region_last), region_last) as span_end
            from cb_affected__regions
        ),
        reached as (
            select
                *,
                max(span_end) over (
                    partition by on_service, touched_id order by span_start, span_end
                    rows between unbounded preceding and 1 preceding
                ) as reached_before
            from bounded
            where span_start <= span_end
        ),
        grouped as (
            select
                *,
                count(case when reached_before is null or span_start > reached_before then 1 end) over (
                    partition by on_service, touched_id order by span_start, span_end rows unbounded preceding
                ) as span_group
            from reached
        )
        select on_service, touched_id, min(span_start) as span_start, max(span_end) as span_end
        from grouped
        group by on_service, touched_id, span_group
    ") }}
    {#- an incident's keys: its CI (levels 0-2: the CI itself and as a neighbour), its service (level
        3); the spans are disjoint, so the latest one starting at or before its opening is the only
        one that can hold it (an as-of join, not every region of the CI paired with every incident) -#}
    {{ attribution_step('cb_affected__touched_incidents', "
        with incident_keys as (
            select incident_cis.incident_id, incident_cis.ci_id, incident_cis.service_id, incidents.opened_at
            from " ~ incident_cis ~ " as incident_cis
            inner join " ~ incident_fp ~ " as incidents on incidents.incident_id = incident_cis.incident_id
            where incidents.opened_at is not null
        ),
        spanned as (
            select incident_keys.incident_id, incident_keys.opened_at, spans.span_end
            from incident_keys
            asof inner join (select * from cb_affected__spans where not on_service) as spans
                on spans.touched_id = incident_keys.ci_id and spans.span_start <= incident_keys.opened_at
            union all
            select incident_keys.incident_id, incident_keys.opened_at, spans.span_end
            from incident_keys
            asof inner join (select * from cb_affected__spans where on_service) as spans
                on spans.touched_id = incident_keys.service_id and spans.span_start <= incident_keys.opened_at
        )
        select distinct incident_id from spanned where opened_at <= span_end
    ") }}
    create or replace table {{ attribution_affected_relation() }} as
        select incident_id from cb_affected__changed_incidents
        union
        select incident_id from {{ incident_fp }}
        where caused_by_key in (select number_key from cb_affected__changed_numbers)
        union
        select incident_id from {{ ref('stg_canonical__incident_links') }}
        where kind = 'caused_by' and target_type = 'change'
            and lower(target_ref) in (select number_key from cb_affected__changed_numbers)
        union
        select incident_id from {{ this }} semi join cb_affected__changed_changes using (change_id)
        union
        select incident_id from cb_affected__touched_incidents;
    drop view if exists temp.cb_affected__unchanged_touches;
    {%- for step in ['changed_incidents', 'new_change_fp', 'prev_change_fp', 'neighbour_differences', 'changed_changes',
                     'changed_numbers', 'changed_touches', 'changed_keys', 'regions', 'spans', 'touched_incidents'] %}
    drop table if exists temp.cb_affected__{{ step }};
    {%- endfor %}
{%- endmacro %}
