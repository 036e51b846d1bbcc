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

{#- One row per period start (column period_start, a date) of `grain` ('week' or 'month')
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
