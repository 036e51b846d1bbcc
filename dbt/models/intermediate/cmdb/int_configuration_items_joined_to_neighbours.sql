{#- One row per (CI, neighbour CI) within two CMDB relationships, read undirected, with the
    shortest distance (1 or 2) and one readable path. A 2-hop path never goes through a business
    service (sharing a service is its own, weaker, attribution method) nor through a hub: a CI
    with more than var('neighbour_hub_degree_limit') relationships. This keeps the pair count
    linear in the CMDB size instead of quadratic in its hubs' degree. -#}
{%- set hub_limit = var('neighbour_hub_degree_limit') -%}
with

relationships as (

    select * from {{ ref('int_ci_relationships_resolved_to_ids') }}

),

edges as (

    -- both directions; `descriptor` reads "from_ci <descriptor> to_ci"
    select
        parent_ci_id as from_ci_id,
        child_ci_id as to_ci_id,
        parent_ci_name as from_ci_name,
        child_ci_name as to_ci_name,
        is_parent_service as is_from_service,
        parent_descriptor as descriptor
    from relationships
    union all
    select
        child_ci_id as from_ci_id,
        parent_ci_id as to_ci_id,
        child_ci_name as from_ci_name,
        parent_ci_name as to_ci_name,
        is_child_service as is_from_service,
        child_descriptor as descriptor
    from relationships

),

degrees as (

    select
        from_ci_id as ci_id,
        count(*) as degree
    from edges
    group by 1

),

one_hop as (

    select
        from_ci_id as ci_id,
        to_ci_id as neighbour_ci_id,
        1 as hops,
        from_ci_name || ' (' || descriptor || ') ' || to_ci_name as relationship_path
    from edges

),

walkable_middles as (

    select edges.*
    from edges
    inner join degrees
        on degrees.ci_id = edges.from_ci_id
    where degrees.degree <= {{ hub_limit }}
        and not edges.is_from_service

),

two_hops as (

    select
        first_leg.from_ci_id as ci_id,
        second_leg.to_ci_id as neighbour_ci_id,
        2 as hops,
        first_leg.from_ci_name || ' (' || first_leg.descriptor || ') ' || first_leg.to_ci_name
            || ' (' || second_leg.descriptor || ') ' || second_leg.to_ci_name as relationship_path
    from edges as first_leg
    inner join walkable_middles as second_leg
        on second_leg.from_ci_id = first_leg.to_ci_id
    where second_leg.to_ci_id <> first_leg.from_ci_id

),

paths as (

    select * from one_hop
    union all
    select * from two_hops

),

ranked as (

    select
        ci_id,
        neighbour_ci_id,
        hops,
        relationship_path,
        row_number() over (
            partition by ci_id, neighbour_ci_id
            order by hops, relationship_path
        ) as path_rank
    from paths

),

shortest as (

    select
        ci_id,
        neighbour_ci_id,
        hops,
        relationship_path
    from ranked
    where path_rank = 1

)

select * from shortest
