{#- One row per (kind, name): the header of a published column or the words for an enumerated value,
    from the seed display_labels (the one label map; dbt docs shows it). The app applies it to every
    table it shows. -#}
with

display_labels as (

    select * from {{ ref('display_labels') }}

),

published as (

    select
        cast(kind as {{ dbt.type_string() }}) as kind,
        cast(name as {{ dbt.type_string() }}) as name,
        cast(label as {{ dbt.type_string() }}) as label
    from display_labels

)

select * from published
