{#- One row per `partition_by` key of `relation`: the first row in `order_by` order, optionally
    only among the rows matching `where`. Returns the relation's own columns, nothing more.

    DuckDB: the rows of keys that occur once as they are; the others ranked with
    qualify row_number() over (...) = 1.
    Portable fallback (Spark, Trino, ...): row_number() in a subquery, then the relation's columns
    listed explicitly (read from the warehouse with adapter.get_columns_in_relation), so the rank
    column does not leak. `relation` must be a Relation (source() or ref()), not a CTE name. -#}
{% macro deduplicate(relation, partition_by, order_by, where=none) -%}
    {%- set implementation = portable_fallback('deduplicate') or adapter.dispatch('deduplicate', 'changeboard') -%}
    {{ return(implementation(relation, partition_by, order_by, where)) }}
{%- endmacro %}

{% macro duckdb__deduplicate(relation, partition_by, order_by, where=none) -%}
    {#- Only the rows of a repeated key are ranked: the window sorts whole rows, and in a real export
        nearly every key is one row (5M incidents ranked took most of the staging model's time). Keys
        are compared with `is not distinct from`, so a null key part groups as it does in the window. -#}
    {%- set keys = [partition_by] if partition_by is string else partition_by -%}
    {%- set key_columns = [] -%}
    {%- for key in keys %}{% do key_columns.append('deduplicate_key_' ~ loop.index) %}{% endfor -%}
    {%- set same_key -%}
        {% for column in key_columns -%}
        deduplicate_rows.{{ column }} is not distinct from repeated.{{ column }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    {%- endset -%}
    with deduplicate_rows as (
        select
            *,
            {%- for key in keys %}
            {{ key }} as deduplicate_key_{{ loop.index }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ relation }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ),
    deduplicate_repeated_keys as (
        select {{ key_columns | join(', ') }}
        from deduplicate_rows
        group by all
        having count(*) > 1
    ),
    deduplicate_kept as (
        select *
        from deduplicate_rows
        anti join deduplicate_repeated_keys as repeated on {{ same_key }}
        union all
        (
            select *
            from deduplicate_rows
            semi join deduplicate_repeated_keys as repeated on {{ same_key }}
            qualify row_number() over (
                partition by {{ keys | join(', ') }}
                order by {{ order_by if order_by is string else order_by | join(', ') }}
            ) = 1
        )
    )
    select * exclude ({{ key_columns | join(', ') }})
    from deduplicate_kept
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
