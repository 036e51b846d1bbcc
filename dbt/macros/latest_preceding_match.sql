{#- For every row of `left_relation`, the rows of `right_relation` with equal keys whose
    `right_time` is the latest at or before `left_time` (an "as of" join; inner: left rows without
    a match are dropped). Returns left.* plus `right_columns` plus `match_rank` (always 1). Rows of
    the right side tied on that latest time are ALL returned: two changes that started on the same
    CI at the same second are equally "the latest", and taking one of them would make the result
    depend on the order the engine happened to read them in (at 1M changes two builds of the same
    data gave 2,588,477 and 2,588,497 candidates).

    DuckDB: an ASOF JOIN, a sort-merge that is linear in both inputs however hot a key is, for the
    latest time; then the right rows of that (keys, time) joined back. Portable fallback (Spark, Trino, ...): an
    equi-join bounded to `max_lookback_hours` and a rank() keeping the latest time's rows; it
    materialises the pairs inside the lookback. -#}
{% macro latest_preceding_match(left_relation, right_relation, key_pairs, left_time, right_time, right_columns, left_pk_columns, max_lookback_hours) -%}
    {%- set implementation = portable_fallback('latest_preceding_match') or adapter.dispatch('latest_preceding_match', 'changeboard') -%}
    {{ return(implementation(left_relation, right_relation, key_pairs, left_time, right_time, right_columns, left_pk_columns, max_lookback_hours)) }}
{%- endmacro %}

{% macro duckdb__latest_preceding_match(left_relation, right_relation, key_pairs, left_time, right_time, right_columns, left_pk_columns, max_lookback_hours) -%}
    {#- The as-of join finds the latest time (it takes one of the tied right rows); the match is then
        joined back to the right side on (keys, that time), which returns every right row of that time,
        the one taken among them. Finding the tied groups first (a group by of the whole right side,
        count > 1) read 21M change touches twice at 1M changes; a distinct right side joined back whole
        ran out of memory. -#}
    select
        matched.* exclude (latest_match_time__),
        {%- for column in right_columns %}
        tied.{{ column }},
        {%- endfor %}
        1 as match_rank
    from (
        select
            left_side.*,
            right_side.{{ right_time }} as latest_match_time__
        from {{ left_relation }} as left_side
        asof inner join {{ right_relation }} as right_side
            on {% for pair in key_pairs -%}
            left_side.{{ pair[0] }} = right_side.{{ pair[1] }} and
            {% endfor -%}
            left_side.{{ left_time }} >= right_side.{{ right_time }}
    ) as matched
    inner join {{ right_relation }} as tied
        on {% for pair in key_pairs -%}
        matched.{{ pair[0] }} = tied.{{ pair[1] }} and
        {% endfor -%}
        matched.latest_match_time__ = tied.{{ right_time }}
{%- endmacro %}

{% macro default__latest_preceding_match(left_relation, right_relation, key_pairs, left_time, right_time, right_columns, left_pk_columns, max_lookback_hours) -%}
    select * from (
        select
            left_side.*,
            {%- for column in right_columns %}
            right_side.{{ column }},
            {%- endfor %}
            rank() over (
                partition by {% for column in left_pk_columns %}left_side.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
                order by right_side.{{ right_time }} desc
            ) as match_rank
        from {{ left_relation }} as left_side
        inner join {{ right_relation }} as right_side
            on {% for pair in key_pairs -%}
            left_side.{{ pair[0] }} = right_side.{{ pair[1] }} and
            {% endfor -%}
            right_side.{{ right_time }} <= left_side.{{ left_time }}
            and right_side.{{ right_time }} >= {{ dbt.dateadd('hour', -1 * max_lookback_hours, 'left_side.' ~ left_time) }}
    ) as ranked
    where match_rank = 1
{%- endmacro %}

{#- A compact equality key for "as of" joins: DuckDB hashes the parts into one UBIGINT (the as-of
    join partitions on it several times faster than on strings); callers re-check the real
    columns after the join, so a hash collision can only drop a match, never invent one. -#}
{% macro match_key(parts) -%}
    {%- set implementation = portable_fallback('match_key') or adapter.dispatch('match_key', 'changeboard') -%}
    {{ return(implementation(parts)) }}
{%- endmacro %}

{% macro default__match_key(parts) -%}
    {% for part in parts %}cast({{ part }} as {{ dbt.type_string() }}){{ " || '|' || " if not loop.last }}{% endfor %}
{%- endmacro %}

{% macro duckdb__match_key(parts) -%}
    hash({{ parts | join(', ') }})
{%- endmacro %}

{#- One exact integer equality key for as-of joins from a small match level (0-3) and an integer
    id: level * 2^32 + id. Portable arithmetic; no hash, so no collision to re-check. -#}
{% macro touch_key(match_level, id_key) -%}
    (cast({{ match_level }} as bigint) * 4294967296 + {{ id_key }})
{%- endmacro %}

{#- The match level and the id a touch_key was made of (the inverse of touch_key; the division of a
    bigint below 2^34 is exact in a double). -#}
{% macro touch_key_level(key) -%}
    cast(floor({{ key }} / 4294967296) as integer)
{%- endmacro %}

{% macro touch_key_id(key) -%}
    ({{ key }} - cast(floor({{ key }} / 4294967296) as bigint) * 4294967296)
{%- endmacro %}
