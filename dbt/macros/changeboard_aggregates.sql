{#- Continuous percentile (median = 0.5, p90 = 0.9) of an expression; nulls are ignored.
    Dispatched (DuckDB: quantile_cont; default: the ordered-set percentile_cont ... within group of
    Spark 3.3+, Postgres and Snowflake; Trino has no exact percentile and needs an implementation). -#}
{% macro percentile(expression, fraction) -%}
    {%- set implementation = portable_fallback('percentile') or adapter.dispatch('percentile', 'changeboard') -%}
    {{ return(implementation(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{#- numerator / denominator as a double, null when the denominator is 0 or null. -#}
{% macro safe_rate(numerator, denominator) -%}
    case when {{ denominator }} > 0 then cast({{ numerator }} as double) / {{ denominator }} end
{%- endmacro %}

{#- The start (a date) of the week (ISO, Monday) or month holding a UTC timestamp. -#}
{% macro period_start(grain_expression, timestamp_expression) -%}
    cast(date_trunc({{ grain_expression }}, {{ timestamp_expression }}) as date)
{%- endmacro %}

{#- One row per period start (column period_start, a date) of `grain` ('day', 'week' or 'month')
    from the period holding start_expression to the one holding end_expression. -#}
{% macro period_spine(grain, start_expression, end_expression) -%}
    {%- set implementation = portable_fallback('period_spine') or adapter.dispatch('period_spine', 'changeboard') -%}
    {{ return(implementation(grain, start_expression, end_expression)) }}
{%- endmacro %}

{% macro duckdb__period_spine(grain, start_expression, end_expression) -%}
    select cast(unnest(generate_series(
        date_trunc('{{ grain }}', {{ start_expression }}),
        date_trunc('{{ grain }}', {{ end_expression }}),
        interval '1 {{ grain }}'
    )) as date) as period_start
{%- endmacro %}

{#- Portable: standard SQL only (no recursive CTE: Spark before 4.1 has none and Trino stops at 10
    levels by default; no generate_series / sequence: engine-specific). The numbers 0 .. 99,999 come
    from five cross-joined lists of the ten digits; each is added in `grain` units to the first
    period start (dbt.dateadd) and kept up to the last period start. So a spine holds at most
    100,000 periods (274 years of days); a longer range (a data error such as a year 9999) stops
    there instead of producing millions of rows. dbt's date_spine needs its bounds at compile time
    (it runs a query); ours are SQL expressions of the model's own CTEs. -#}
{% macro default__period_spine(grain, start_expression, end_expression) -%}
    {%- set digit_count = 5 -%}
    select periods.period_start
    from (
        select
            cast({{ dbt.dateadd(grain, 'period_numbers.period_number', 'period_bounds.first_period_start') }} as date) as period_start,
            period_bounds.last_period_start
        from (
            select
                cast({{ dbt.date_trunc(grain, start_expression) }} as date) as first_period_start,
                cast({{ dbt.date_trunc(grain, end_expression) }} as date) as last_period_start
        ) as period_bounds
        cross join (
            select
                {% for position in range(digit_count) -%}
                digits_{{ position }}.digit * {{ 10 ** position }}{{ ' + ' if not loop.last }}
                {%- endfor %} as period_number
            from
                {%- for position in range(digit_count) %}
                {{ 'cross join ' if not loop.first }}(
                    {% for digit in range(10) %}select {{ digit }} as digit{{ ' union all ' if not loop.last }}{% endfor %}
                ) as digits_{{ position }}
                {%- endfor %}
        ) as period_numbers
    ) as periods
    where periods.period_start <= periods.last_period_start
{%- endmacro %}

{#- Aggregate: `value` of the row with the smallest `order_by` in the group (rows whose `order_by`
    is null are skipped; on a tie any of the tied rows). Dispatched (DuckDB: arg_min; default:
    min_by, as in Spark 3 and Trino). -#}
{% macro value_at_min(value, order_by) -%}
    {%- set implementation = portable_fallback('value_at_min') or adapter.dispatch('value_at_min', 'changeboard') -%}
    {{ return(implementation(value, order_by)) }}
{%- endmacro %}

{% macro default__value_at_min(value, order_by) -%}
    min_by({{ value }}, {{ order_by }})
{%- endmacro %}

{% macro duckdb__value_at_min(value, order_by) -%}
    arg_min({{ value }}, {{ order_by }})
{%- endmacro %}

{#- Aggregate: the sum of a fractional measure (hours, a double) that does not depend on the order
    the engine adds the rows in: each value is rounded to 9 decimals (3.6 microseconds of an hour)
    and added as an exact decimal. A double sum's last bits follow the parallel order (two builds of
    the same 1M data differed in 1,481 rows), so an incremental and a full build could not be
    compared exactly. Portable: every engine sums a decimal(38, 9) exactly. -#}
{% macro exact_sum(expression) -%}
    sum(cast({{ expression }} as decimal(38, 9)))
{%- endmacro %}

{#- Aggregate: any one non-null value of `expression` in the group, for a column that is the same
    on every row of the group. Dispatched (DuckDB: any_value; default: min, which every engine has
    and which returns that same value). -#}
{% macro any_value_of(expression) -%}
    {%- set implementation = portable_fallback('any_value_of') or adapter.dispatch('any_value_of', 'changeboard') -%}
    {{ return(implementation(expression)) }}
{%- endmacro %}

{% macro default__any_value_of(expression) -%}
    min({{ expression }})
{%- endmacro %}

{% macro duckdb__any_value_of(expression) -%}
    any_value({{ expression }})
{%- endmacro %}

{#- A unique number per row, for use as a join key inside one model (never published): DuckDB
    numbers rows in one pass (`row_number() over ()`), other engines order by `order_by` (a row
    number without order is not defined the same everywhere). At 1M changes the ordered numbering
    of the change attribution's touches cost 28 s of sorting (158 s against 130 s). -#}
{% macro row_id(order_by) -%}
    {%- set implementation = portable_fallback('row_id') or adapter.dispatch('row_id', 'changeboard') -%}
    {{ return(implementation(order_by)) }}
{%- endmacro %}

{% macro default__row_id(order_by) -%}
    row_number() over (order by {{ order_by | join(', ') if order_by is not string else order_by }})
{%- endmacro %}

{% macro duckdb__row_id(order_by) -%}
    row_number() over ()
{%- endmacro %}

{#- How a CTE is evaluated, where DuckDB's planner would otherwise decide alone:
    - materialized=true: computed once and held, for a CTE numbered with row_id() and read more than
      once (DuckDB's row_id() numbers rows in the order they are read, so two computations could
      number them differently and a join between them would pair the wrong rows);
    - materialized=false: computed at each reference, for a large CTE read twice for different
      columns (each reference then reads only its own: the change attribution's 21M touches are
      grouped without their path texts).
    DuckDB: `materialized` / `not materialized`. Other engines: nothing (row_id() numbers in key
    order there, the same in every computation; their planner's choice is left alone). -#}
{% macro cte_materialization(materialized) -%}
    {%- set implementation = portable_fallback('cte_materialization') or adapter.dispatch('cte_materialization', 'changeboard') -%}
    {{ return(implementation(materialized)) }}
{%- endmacro %}

{% macro default__cte_materialization(materialized) -%}
{%- endmacro %}

{% macro duckdb__cte_materialization(materialized) -%}
    {{ 'materialized' if materialized else 'not materialized' }}
{%- endmacro %}
