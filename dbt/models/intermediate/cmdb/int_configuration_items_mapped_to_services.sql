{#- One row per CI: the business service it belongs to. A service is its own service; otherwise
    the CMDB's own service reference, else a service one relationship up (the CI is the child,
    e.g. "Payments Depends on app-payments-01"), else two relationships up (e.g. a server an
    application runs on). The nearest wins; ties go to the service name, alphabetically. -#}
with

configuration_items as (

    select * from {{ ref('stg_canonical__configuration_items') }}

),

names as (

    select * from {{ ref('int_configuration_item_names_resolved') }}

),

relationships as (

    select * from {{ ref('int_ci_relationships_resolved_to_ids') }}

),

own_service as (

    select
        ci_id,
        ci_id as service_id,
        0 as service_hops,
        'self' as service_method
    from configuration_items
    where is_service

),

referenced_service as (

    select
        configuration_items.ci_id,
        names.ci_id as service_id,
        0 as service_hops,
        'cmdb_service_ref' as service_method
    from configuration_items
    inner join names
        on names.name_key = lower(configuration_items.service_ref)
    where names.is_service
        and not configuration_items.is_service

),

one_hop as (

    select
        child_ci_id as ci_id,
        parent_ci_id as service_id,
        1 as service_hops,
        'relationship_1_hop' as service_method
    from relationships
    where is_parent_service
        and not is_child_service

),

two_hops as (

    select
        lower_hop.child_ci_id as ci_id,
        upper_hop.parent_ci_id as service_id,
        2 as service_hops,
        'relationship_2_hops' as service_method
    from relationships as lower_hop
    inner join relationships as upper_hop
        on upper_hop.child_ci_id = lower_hop.parent_ci_id
    where upper_hop.is_parent_service
        and not lower_hop.is_parent_service
        and not lower_hop.is_child_service
        and lower_hop.child_ci_id <> upper_hop.parent_ci_id

),

candidates as (

    select * from own_service
    union all
    select * from referenced_service
    union all
    select * from one_hop
    union all
    select * from two_hops

),

ranked as (

    select
        candidates.ci_id,
        candidates.service_id,
        services.name as service_name,
        candidates.service_hops,
        candidates.service_method,
        row_number() over (
            partition by candidates.ci_id
            order by
                candidates.service_hops,
                case candidates.service_method when 'self' then 0 when 'cmdb_service_ref' then 1 else 2 end,
                services.name,
                candidates.service_id
        ) as service_rank
    from candidates
    inner join configuration_items as services
        on services.ci_id = candidates.service_id

),

nearest as (

    select
        ci_id,
        service_id,
        service_name,
        service_hops,
        service_method
    from ranked
    where service_rank = 1

)

select * from nearest
