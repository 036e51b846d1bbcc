{#- The next working day (Monday to Friday) after the day holding `timestamp_expression`, at
    `hour`:00 (UTC): the default CAB meeting time. Dispatched (DuckDB: isodow; default: the
    ANSI extract(isodow ...) that Postgres and Trino accept; Spark needs dayofweek()). -#}
{% macro next_working_day_at(timestamp_expression, hour) -%}
    {{ return(adapter.dispatch('next_working_day_at', 'changeboard')(timestamp_expression, hour)) }}
{%- endmacro %}

{% macro default__next_working_day_at(timestamp_expression, hour) -%}
    (
        cast(cast({{ timestamp_expression }} as date) as timestamp)
        + case extract(isodow from {{ timestamp_expression }})
            when 5 then interval '3 days'
            when 6 then interval '2 days'
            else interval '1 days'
        end
        + interval '{{ hour }} hours'
    )
{%- endmacro %}

{% macro duckdb__next_working_day_at(timestamp_expression, hour) -%}
    (
        cast(cast({{ timestamp_expression }} as date) as timestamp)
        + case isodow({{ timestamp_expression }})
            when 5 then interval 3 day
            when 6 then interval 2 day
            else interval 1 day
        end
        + interval {{ hour }} hour
    )
{%- endmacro %}

{#- The CAB meeting time T: the var `cab_meeting_at` (a UTC timestamp string) or the next working
    day at var('cab_meeting_hour') (10) after "now" (macro as_of_timestamp). -#}
{% macro cab_meeting_timestamp() -%}
    {%- if var('cab_meeting_at', none) -%}
        cast('{{ var("cab_meeting_at") }}' as timestamp)
    {%- else -%}
        {{ next_working_day_at(as_of_timestamp(), var('cab_meeting_hour', 10)) }}
    {%- endif -%}
{%- endmacro %}

{#- A list (array) column rendered as one text, elements joined by `separator`. Dispatched
    (DuckDB: array_to_string; default: array_join, as in Spark and Trino). -#}
{% macro list_to_text(list_expression, separator) -%}
    {{ return(adapter.dispatch('list_to_text', 'changeboard')(list_expression, separator)) }}
{%- endmacro %}

{% macro default__list_to_text(list_expression, separator) -%}
    array_join({{ list_expression }}, '{{ separator }}')
{%- endmacro %}

{% macro duckdb__list_to_text(list_expression, separator) -%}
    array_to_string({{ list_expression }}, '{{ separator }}')
{%- endmacro %}

{#- A percentage text of a 0..1 rate, e.g. 0.625 -> '62.5 %' (one decimal); null stays null. -#}
{% macro percent_text(rate_expression) -%}
    cast(round(100.0 * ({{ rate_expression }}), 1) as varchar) || ' %'
{%- endmacro %}
