{#- One row per (change, CI reference, role): every CI a change touches, from its primary CI
    (role primary), its change_ci rows (affected / impacted; Jira names impacted services there)
    and its business service reference (role service), with the name resolved to a ci_id
    (case-insensitive, any source system; null when the CMDB does not know the name). -#}
with

changes as (

    select * from {{ ref('stg_canonical__changes') }}

),

change_cis as (

    select * from {{ ref('stg_canonical__change_cis') }}

),

names as (

    select * from {{ ref('int_configuration_item_names_resolved') }}

),

references_unioned as (

    select
        change_id,
        primary_ci_ref as ci_ref,
        'primary' as role
    from changes
    where primary_ci_ref is not null
    union all
    select
        change_cis.change_id,
        change_cis.ci_ref,
        change_cis.role
    from change_cis
    inner join changes
        on changes.change_id = change_cis.change_id
    union all
    select
        change_id,
        service_ref as ci_ref,
        'service' as role
    from changes
    where service_ref is not null

),

deduplicated as (

    select
        change_id,
        min(ci_ref) as ci_ref,
        lower(ci_ref) as ci_ref_key,
        role
    from references_unioned
    group by change_id, lower(ci_ref), role

),

resolved as (

    select
        deduplicated.change_id,
        deduplicated.ci_ref,
        deduplicated.role,
        names.ci_id,
        names.ci_name,
        coalesce(names.is_service, false) as is_service,
        names.ci_id is not null as is_resolved
    from deduplicated
    left join names
        on names.name_key = deduplicated.ci_ref_key

)

select * from resolved
