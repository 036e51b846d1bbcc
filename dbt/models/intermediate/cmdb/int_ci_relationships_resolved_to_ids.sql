{#- One row per (parent CI, child CI): CMDB relationships with both names resolved to ci_ids.
    Self-loops and relationships naming unknown CIs are dropped; parallel relationships between
    the same two CIs keep one type (alphabetically first). -#}
with

relationships as (

    select * from {{ ref('stg_canonical__ci_relationships') }}

),

names as (

    select * from {{ ref('int_configuration_item_names_resolved') }}

),

resolved as (

    select
        parent_names.ci_id as parent_ci_id,
        child_names.ci_id as child_ci_id,
        parent_names.ci_name as parent_ci_name,
        child_names.ci_name as child_ci_name,
        parent_names.is_service as is_parent_service,
        child_names.is_service as is_child_service,
        relationships.rel_type,
        relationships.parent_descriptor,
        relationships.child_descriptor
    from relationships
    inner join names as parent_names
        on parent_names.name_key = lower(relationships.parent_ref)
    inner join names as child_names
        on child_names.name_key = lower(relationships.child_ref)
    where parent_names.ci_id <> child_names.ci_id

),

ranked as (

    select
        parent_ci_id,
        child_ci_id,
        parent_ci_name,
        child_ci_name,
        is_parent_service,
        is_child_service,
        rel_type,
        parent_descriptor,
        child_descriptor,
        row_number() over (
            partition by parent_ci_id, child_ci_id
            order by rel_type
        ) as relationship_rank
    from resolved

),

deduplicated as (

    select
        parent_ci_id,
        child_ci_id,
        parent_ci_name,
        child_ci_name,
        is_parent_service,
        is_child_service,
        rel_type,
        parent_descriptor,
        child_descriptor
    from ranked
    where relationship_rank = 1

)

select * from deduplicated
