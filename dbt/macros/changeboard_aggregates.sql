{#- Continuous percentile (median = 0.5, p90 = 0.9) of an expression; nulls are ignored. -#}
{% macro percentile(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'changeboard')(expression, fraction)) }}
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
    {{ return(adapter.dispatch('period_spine', 'changeboard')(grain, start_expression, end_expression)) }}
{%- endmacro %}

{% macro duckdb__period_spine(grain, start_expression, end_expression) -%}
    select cast(unnest(generate_series(
        date_trunc('{{ grain }}', {{ start_expression }}),
        date_trunc('{{ grain }}', {{ end_expression }}),
        interval '1 {{ grain }}'
    )) as date) as period_start
{%- endmacro %}

{% macro default__period_spine(grain, start_expression, end_expression) -%}
    {{ exceptions.raise_compiler_error("period_spine has no implementation for " ~ adapter.type() ~ "; add one (dbt's date_spine works).") }}
{%- endmacro %}

{#- Aggregate: `value` of the row with the smallest `order_by` in the group (rows whose `order_by`
    is null are skipped; on a tie any of the tied rows). Dispatched (DuckDB: arg_min; default:
    min_by, as in Spark 3 and Trino). -#}
{% macro value_at_min(value, order_by) -%}
    {{ return(adapter.dispatch('value_at_min', 'changeboard')(value, order_by)) }}
{%- endmacro %}

{% macro default__value_at_min(value, order_by) -%}
    min_by({{ value }}, {{ order_by }})
{%- endmacro %}

{% macro duckdb__value_at_min(value, order_by) -%}
    arg_min({{ value }}, {{ order_by }})
{%- endmacro %}

{#- Aggregate: any one non-null value of `expression` in the group, for a column that is the same
    on every row of the group. Dispatched (DuckDB: any_value; default: min, which every engine has
    and which returns that same value). -#}
{% macro any_value_of(expression) -%}
    {{ return(adapter.dispatch('any_value_of', 'changeboard')(expression)) }}
{%- endmacro %}

{% macro default__any_value_of(expression) -%}
    min({{ expression }})
{%- endmacro %}

{% macro duckdb__any_value_of(expression) -%}
    any_value({{ expression }})
{%- endmacro %}
