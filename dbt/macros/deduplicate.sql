{#- One row per `partition_by` key of `relation`: the first row in `order_by` order, optionally
    only among the rows matching `where`. Returns the relation's own columns, nothing more.

    DuckDB: select * ... qualify row_number() over (...) = 1.
    Portable fallback (Spark, Trino, ...): row_number() in a subquery, then the relation's columns
    listed explicitly (read from the warehouse with adapter.get_columns_in_relation), so the rank
    column does not leak. `relation` must be a Relation (source() or ref()), not a CTE name. -#}
{% macro deduplicate(relation, partition_by, order_by, where=none) -%}
    {%- set implementation = portable_fallback('deduplicate') or adapter.dispatch('deduplicate', 'changeboard') -%}
    {{ return(implementation(relation, partition_by, order_by, where)) }}
{%- endmacro %}

{% macro duckdb__deduplicate(relation, partition_by, order_by, where=none) -%}
    select *
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
    qualify row_number() over (
        partition by {{ partition_by if partition_by is string else partition_by | join(', ') }}
        order by {{ order_by if order_by is string else order_by | join(', ') }}
    ) = 1
{%- endmacro %}

{% macro default__deduplicate(relation, partition_by, order_by, where=none) -%}
    {#- A unit-test fixture (or an ephemeral model) is a CTE the warehouse cannot describe: it
        falls back to `*`, so there the rank column comes along too. -#}
    {%- set introspect = execute and not relation.is_cte -%}
    {%- set columns = adapter.get_columns_in_relation(relation) if introspect else [] -%}
    {%- if introspect and not columns -%}
        {{ exceptions.raise_compiler_error("deduplicate: found no columns in " ~ relation ~ "; pass a Relation (source() or ref()) that exists.") }}
    {%- endif %}
    select
        {%- for column in columns %}
        {{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
        {%- else %}
        *
        {%- endfor %}
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by if partition_by is string else partition_by | join(', ') }}
                order by {{ order_by if order_by is string else order_by | join(', ') }}
            ) as deduplicate_rank
        from {{ relation }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ) as ranked
    where deduplicate_rank = 1
{%- endmacro %}
