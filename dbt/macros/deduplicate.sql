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
        nearly every key is one row (5M incidents ranked took most of the staging model's time).
        Repeated keys are found by a hash of the key: a key whose hash collides with a repeated one
        is only ranked too (alone in its partition, it stays), and a null key part hashes as it groups
        in the window. The rows are read again by each branch, not materialized: holding every column
        of 5M incidents for the three readers took 14-18 s where reading them again takes 4-7 s. -#}
    {%- set keys = [partition_by] if partition_by is string else partition_by -%}
    with deduplicate_rows as not materialized (
        select
            *,
            hash({{ keys | join(', ') }}) as deduplicate_key_hash
        from {{ relation }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ),
    deduplicate_repeated_keys as (
        select deduplicate_key_hash
        from deduplicate_rows
        group by all
        having count(*) > 1
    ),
    deduplicate_kept as (
        select *
        from deduplicate_rows
        anti join deduplicate_repeated_keys using (deduplicate_key_hash)
        union all
        (
            select *
            from deduplicate_rows
            semi join deduplicate_repeated_keys using (deduplicate_key_hash)
            qualify row_number() over (
                partition by {{ keys | join(', ') }}
                order by {{ order_by if order_by is string else order_by | join(', ') }}
            ) = 1
        )
    )
    select * exclude (deduplicate_key_hash)
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
