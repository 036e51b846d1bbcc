{#- One row per colliding pair of open or in-progress changes (change_id_a < change_id_b): their
    planned windows overlap (strictly: windows that only touch do not collide) and they touch the
    same CI, CIs one CMDB relationship apart, or (weaker) the same business service. A pair that
    matches several ways keeps the strongest (same_ci, then related_ci, then same_service) and,
    within it, the first CI / path by name. Business services are not matched as CIs: sharing a
    service is its own, weaker, kind.

    Scale: only open / in-progress changes enter, and pairs are equi-joined on the shared CI,
    neighbour or service before the overlap filter, so the work is the number of open changes per
    CI / service squared, never the history. -#}
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

scheduled_cis as (

    select distinct
        scheduled_changes.change_id,
        scheduled_changes.planned_start_at,
        scheduled_changes.planned_end_at,
        change_cis.ci_id,
        change_cis.ci_name
    from scheduled_changes
    inner join change_cis
        on change_cis.change_id = scheduled_changes.change_id
    where change_cis.ci_id is not null
        and not change_cis.is_service

),

scheduled_services as (

    select
        scheduled_changes.change_id,
        scheduled_changes.planned_start_at,
        scheduled_changes.planned_end_at,
        change_services.service_id,
        change_services.service_name
    from scheduled_changes
    inner join change_services
        on change_services.change_id = scheduled_changes.change_id

),

same_ci_pairs as (

    select
        change_a.change_id as change_id_a,
        change_b.change_id as change_id_b,
        'same_ci' as collision_kind,
        1 as kind_rank,
        change_a.ci_id as shared_ci_id,
        change_a.ci_name as shared_ci_name,
        cast(null as varchar) as relationship_path,
        change_a.planned_start_at as start_a,
        change_a.planned_end_at as end_a,
        change_b.planned_start_at as start_b,
        change_b.planned_end_at as end_b
    from scheduled_cis as change_a
    inner join scheduled_cis as change_b
        on change_b.ci_id = change_a.ci_id
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
        cast(null as varchar) as shared_ci_id,
        cast(null as varchar) as shared_ci_name,
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
        cast(null as varchar) as relationship_path,
        change_a.planned_start_at as start_a,
        change_a.planned_end_at as end_a,
        change_b.planned_start_at as start_b,
        change_b.planned_end_at as end_b
    from scheduled_services as change_a
    inner join scheduled_services as change_b
        on change_b.service_id = change_a.service_id
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
            || ', overlapping ' || cast(cast(round({{ hours_between('overlapping.overlap_start_at', 'overlapping.overlap_end_at') }} * 60) as bigint) as varchar)
            || ' min from ' || cast(overlapping.overlap_start_at as varchar) as description,
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
