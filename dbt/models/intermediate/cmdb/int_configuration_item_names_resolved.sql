{#- One row per CI name (case-insensitive): the CI a name reference resolves to, whatever the
    source system. When several CIs share a name, the most recently updated wins. -#}
with

configuration_items as (

    select * from {{ ref('stg_canonical__configuration_items') }}

),

ranked as (

    select
        name_key,
        ci_id,
        name as ci_name,
        is_service,
        count(*) over (partition by name_key) as same_name_ci_count,
        row_number() over (
            partition by name_key
            order by updated_at desc nulls last, ci_id asc
        ) as name_rank
    from configuration_items
    where name_key is not null and name_key <> ''

),

resolved as (

    select
        name_key,
        ci_id,
        ci_name,
        is_service,
        same_name_ci_count
    from ranked
    where name_rank = 1

)

select * from resolved
