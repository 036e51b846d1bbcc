{#- One row per (CI, neighbour CI) within two CMDB relationships, read in both directions, with
    the shortest distance and one readable path. 2-hop paths never pass through a business
    service or a hub CI (see int_configuration_items_joined_to_neighbours). -#}
with

neighbours as (

    select * from {{ ref('int_configuration_items_joined_to_neighbours') }}

),

configuration_items as (

    select * from {{ ref('stg_canonical__configuration_items') }}

),

final as (

    select
        neighbours.ci_id || '|' || neighbours.neighbour_ci_id as ci_relationship_id,
        neighbours.ci_id,
        cis.name as ci_name,
        neighbours.neighbour_ci_id,
        neighbour_cis.name as neighbour_ci_name,
        neighbour_cis.is_service as is_neighbour_service,
        cast(neighbours.hops as integer) as distance,
        neighbours.relationship_path
    from neighbours
    inner join configuration_items as cis
        on cis.ci_id = neighbours.ci_id
    inner join configuration_items as neighbour_cis
        on neighbour_cis.ci_id = neighbours.neighbour_ci_id

)

select * from final
