{#- A compact integer key per configuration item: 1, 2, ... in ci_id order, within one build. The
    facts carry it beside the text ci_id, because filtering a million-row fact on one integer is a
    fraction of the cost of comparing text ids on every row (a CI's history in the app). -#}
with

configuration_items as (

    select * from {{ ref('stg_canonical__configuration_items') }}

),

final as (

    select
        ci_id,
        row_number() over (order by ci_id) as ci_key
    from configuration_items

)

select * from final
