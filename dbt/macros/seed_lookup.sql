{#- Left-joins a mapping seed twice: the row for the record's own source system (`<alias>_own`)
    and the wildcard row (`<alias>_any`, source_system = '*'). Select with
    coalesce(<alias>_own.col, <alias>_any.col). Raw values match trimmed and case-insensitively. -#}
{% macro seed_lookup_join(seed_name, alias, source_system_column, raw_expression, seed_raw_column) -%}
    left join {{ ref(seed_name) }} as {{ alias }}_own
        on {{ alias }}_own.source_system = {{ source_system_column }}
        and {{ lookup_key(alias ~ '_own.' ~ seed_raw_column) }} = {{ lookup_key(raw_expression) }}
    left join {{ ref(seed_name) }} as {{ alias }}_any
        on {{ alias }}_any.source_system = '*'
        and {{ lookup_key(alias ~ '_any.' ~ seed_raw_column) }} = {{ lookup_key(raw_expression) }}
{%- endmacro %}

{#- coalesce(own-source mapping, wildcard mapping) of one seed column. -#}
{% macro seed_lookup_value(alias, column) -%}
    coalesce({{ alias }}_own.{{ column }}, {{ alias }}_any.{{ column }})
{%- endmacro %}
