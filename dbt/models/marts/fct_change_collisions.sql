{#- One row per colliding pair of open or in-progress changes (change_id_a < change_id_b): their
    planned windows overlap (strictly: windows that only touch do not collide) and they touch the
    same CI, CIs one CMDB relationship apart, or (weaker) the same business service. A pair that
    matches several ways keeps the strongest (same_ci, then related_ci, then same_service) and,
    within it, the first CI / path by name. Business services are not matched as CIs: sharing a
    service is its own, weaker, kind.

    Scale: only open / in-progress changes enter, and pairs are equi-joined on the shared CI,
    neighbour or service AND on a UTC day both planned windows touch, before the overlap filter: two
    windows overlap only if they share a day (the day holding the later start), so the work is the
    open changes per CI / service and day squared. Joining on the CI alone is quadratic in a hot CI's
    open changes: at 1M changes one service had 31,751 open changes (a billion candidate pairs, out
    of memory); per CI and day it is at most a few hundred. A pair found on several days keeps one
    row (see strongest). Same-service pairs are not formed on a day when the service has more
    scheduled changes than var('collision_max_changes_per_service_day') (100): there, "same service"
    says nothing (at 1M changes one catch-all service had 4,163 changes on one day, 7M such pairs). -#}
with

changes as (

    select * from {{ ref('stg_canonical__changes') }}

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

window_checks as (

    select * from {{ ref('int_changes_checked_against_change_windows') }}

),

scheduled_changes as (

    select
        change_id,
        number,
        planned_start_at,
        planned_end_at
    from changes
    where state_category in ('open', 'in_progress')
        and planned_start_at is not null
        and planned_end_at is not null
        and planned_end_at > planned_start_at

),

day_spine as (

    {{ period_spine(
        'day',
        '(select min(planned_start_at) from scheduled_changes)',
        '(select max(planned_end_at) from scheduled_changes)'
    ) }}

),

scheduled_days as (

    -- each scheduled change once per UTC day its planned window touches
    select
        scheduled_changes.change_id,
        scheduled_changes.planned_start_at,
        scheduled_changes.planned_end_at,
        day_spine.period_start as window_day
    from scheduled_changes
    inner join day_spine
        on day_spine.period_start >= {{ period_start("'day'", 'scheduled_changes.planned_start_at') }}
        and day_spine.period_start < scheduled_changes.planned_end_at

),

scheduled_cis as (

    select distinct
        scheduled_days.change_id,
        scheduled_days.planned_start_at,
        scheduled_days.planned_end_at,
        scheduled_days.window_day,
        change_cis.ci_id,
        change_cis.ci_name
    from scheduled_days
    inner join change_cis
        on change_cis.change_id = scheduled_days.change_id
    where change_cis.ci_id is not null
        and not change_cis.is_service

),

scheduled_service_days as (

    select
        scheduled_days.change_id,
        scheduled_days.planned_start_at,
        scheduled_days.planned_end_at,
        scheduled_days.window_day,
        change_services.service_id,
        change_services.service_name
    from scheduled_days
    inner join change_services
        on change_services.change_id = scheduled_days.change_id

),

busy_service_days as (

    select
        service_id,
        window_day
    from scheduled_service_days
    group by service_id, window_day
    having count(*) > {{ var('collision_max_changes_per_service_day', 100) }}

),

scheduled_services as (

    -- a service with more scheduled changes on one day than the var is a catch-all, not a collision
    -- signal: its changes still collide by CI and by relationship, not pairwise by service that day
    select scheduled_service_days.*
    from scheduled_service_days
    left join busy_service_days
        on busy_service_days.service_id = scheduled_service_days.service_id
        and busy_service_days.window_day = scheduled_service_days.window_day
    where busy_service_days.service_id is null

),

same_ci_pairs as (

    select
        change_a.change_id as change_id_a,
        change_b.change_id as change_id_b,
        'same_ci' as collision_kind,
        1 as kind_rank,
        change_a.ci_id as shared_ci_id,
        change_a.ci_name as shared_ci_name,
        cast(null as {{ dbt.type_string() }}) as relationship_path,
        change_a.planned_start_at as start_a,
        change_a.planned_end_at as end_a,
        change_b.planned_start_at as start_b,
        change_b.planned_end_at as end_b
    from scheduled_cis as change_a
    inner join scheduled_cis as change_b
        on change_b.ci_id = change_a.ci_id
        and change_b.window_day = change_a.window_day
        and change_a.change_id < change_b.change_id
        and change_a.planned_start_at < change_b.planned_end_at
        and change_b.planned_start_at < change_a.planned_end_at

),

related_ci_pairs as (

    -- a touches x, b touches y, x and y one relationship apart (the path reads from a's CI)
    select
        change_a.change_id as change_id_a,
        change_b.change_id as change_id_b,
        'related_ci' as collision_kind,
        2 as kind_rank,
        cast(null as {{ dbt.type_string() }}) as shared_ci_id,
        cast(null as {{ dbt.type_string() }}) as shared_ci_name,
        neighbours.relationship_path,
        change_a.planned_start_at as start_a,
        change_a.planned_end_at as end_a,
        change_b.planned_start_at as start_b,
        change_b.planned_end_at as end_b
    from scheduled_cis as change_a
    inner join neighbours
        on neighbours.ci_id = change_a.ci_id
        and neighbours.hops = 1
    inner join scheduled_cis as change_b
        on change_b.ci_id = neighbours.neighbour_ci_id
        and change_b.window_day = change_a.window_day
        and change_a.change_id < change_b.change_id
        and change_a.planned_start_at < change_b.planned_end_at
        and change_b.planned_start_at < change_a.planned_end_at

),

same_service_pairs as (

    select
        change_a.change_id as change_id_a,
        change_b.change_id as change_id_b,
        'same_service' as collision_kind,
        3 as kind_rank,
        change_a.service_id as shared_ci_id,
        change_a.service_name as shared_ci_name,
        cast(null as {{ dbt.type_string() }}) as relationship_path,
        change_a.planned_start_at as start_a,
        change_a.planned_end_at as end_a,
        change_b.planned_start_at as start_b,
        change_b.planned_end_at as end_b
    from scheduled_services as change_a
    inner join scheduled_services as change_b
        on change_b.service_id = change_a.service_id
        and change_b.window_day = change_a.window_day
        and change_a.change_id < change_b.change_id
        and change_a.planned_start_at < change_b.planned_end_at
        and change_b.planned_start_at < change_a.planned_end_at

),

all_pairs as (

    select * from same_ci_pairs
    union all
    select * from related_ci_pairs
    union all
    select * from same_service_pairs

),

strongest as (

    select *
    from (
        select
            all_pairs.*,
            row_number() over (
                partition by change_id_a, change_id_b
                order by kind_rank, coalesce(shared_ci_name, relationship_path), shared_ci_id
            ) as pair_rank
        from all_pairs
    ) as ranked
    where pair_rank = 1

),

overlapping as (

    select
        strongest.*,
        case when start_a > start_b then start_a else start_b end as overlap_start_at,
        case when end_a < end_b then end_a else end_b end as overlap_end_at
    from strongest

),

final as (

    select
        overlapping.change_id_a || '|' || overlapping.change_id_b as collision_id,
        overlapping.change_id_a,
        change_a.number as change_number_a,
        overlapping.change_id_b,
        change_b.number as change_number_b,
        overlapping.collision_kind,
        overlapping.shared_ci_id,
        overlapping.shared_ci_name,
        overlapping.relationship_path,
        overlapping.overlap_start_at,
        overlapping.overlap_end_at,
        cast({{ hours_between('overlapping.overlap_start_at', 'overlapping.overlap_end_at') }} * 60 as double) as overlap_minutes,
        change_a.number || ' and ' || change_b.number
            || case overlapping.collision_kind
                when 'same_ci' then ' both change ' || overlapping.shared_ci_name
                when 'related_ci' then ' change related CIs: ' || overlapping.relationship_path
                else ' both change service ' || overlapping.shared_ci_name
            end
            || ', overlapping ' || cast(cast({{ round_half_up(hours_between('overlapping.overlap_start_at', 'overlapping.overlap_end_at') ~ ' * 60') }} as bigint) as {{ dbt.type_string() }})
            || ' min from ' || cast(overlapping.overlap_start_at as {{ dbt.type_string() }}) as description,
        coalesce(checks_a.in_blackout, false) as in_blackout_a,
        coalesce(checks_a.is_outside_maintenance_window, false) as is_outside_maintenance_window_a,
        coalesce(checks_b.in_blackout, false) as in_blackout_b,
        coalesce(checks_b.is_outside_maintenance_window, false) as is_outside_maintenance_window_b
    from overlapping
    inner join scheduled_changes as change_a
        on change_a.change_id = overlapping.change_id_a
    inner join scheduled_changes as change_b
        on change_b.change_id = overlapping.change_id_b
    left join window_checks as checks_a
        on checks_a.change_id = overlapping.change_id_a
    left join window_checks as checks_b
        on checks_b.change_id = overlapping.change_id_b

)

select * from final
