{#- The next working day (Monday to Friday) after the day holding `timestamp_expression`, at
    `hour`:00 (UTC): the default CAB meeting time. Dispatched (DuckDB: isodow and interval
    arithmetic; default: the weekday from dbt.datediff and dbt.dateadd, see below). -#}
{% macro next_working_day_at(timestamp_expression, hour) -%}
    {%- set implementation = portable_fallback('next_working_day_at') or adapter.dispatch('next_working_day_at', 'changeboard') -%}
    {{ return(implementation(timestamp_expression, hour)) }}
{%- endmacro %}

{#- Portable: no engine agrees on a weekday function (isodow is Postgres / DuckDB; Trino has
    day_of_week, Spark dayofweek with Sunday = 1), so the weekday is counted from a known Monday
    (1970-01-05) with dbt.datediff: ((days % 7) + 7) % 7 is 0 on Monday .. 6 on Sunday, also before
    1970. Friday moves 3 days, Saturday 2, any other day 1; dbt.dateadd adds the days and the hour. -#}
{% macro default__next_working_day_at(timestamp_expression, hour) -%}
    {%- set day_start = 'cast(cast(' ~ timestamp_expression ~ ' as date) as timestamp)' -%}
    {%- set days_since_monday = dbt.datediff("cast('1970-01-05' as date)", 'cast(' ~ timestamp_expression ~ ' as date)', 'day') -%}
    {%- set days_ahead = 'case (((' ~ days_since_monday ~ ') % 7) + 7) % 7 when 4 then 3 when 5 then 2 else 1 end' -%}
    (
        {{ dbt.dateadd('hour', hour, dbt.dateadd('day', days_ahead, day_start)) }}
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
    {%- set implementation = portable_fallback('list_to_text') or adapter.dispatch('list_to_text', 'changeboard') -%}
    {{ return(implementation(list_expression, separator)) }}
{%- endmacro %}

{% macro default__list_to_text(list_expression, separator) -%}
    array_join({{ list_expression }}, '{{ separator }}')
{%- endmacro %}

{% macro duckdb__list_to_text(list_expression, separator) -%}
    array_to_string({{ list_expression }}, '{{ separator }}')
{%- endmacro %}

{#- A number rounded to `decimal_places` as plain decimal text, e.g. 62.5 -> '62.5'; null stays
    null. Dispatched (DuckDB: the rounded number cast to varchar; default: cast through
    decimal(38, decimal_places) to dbt's string type, because Trino writes a double cast to text in
    scientific notation, '6.25E1'). -#}
{% macro number_to_text(expression, decimal_places) -%}
    {%- set implementation = portable_fallback('number_to_text') or adapter.dispatch('number_to_text', 'changeboard') -%}
    {{ return(implementation(expression, decimal_places)) }}
{%- endmacro %}

{% macro default__number_to_text(expression, decimal_places) -%}
    cast(cast({{ round_half_up(expression, decimal_places) }} as decimal(38, {{ decimal_places }})) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro duckdb__number_to_text(expression, decimal_places) -%}
    cast({{ round_half_up(expression, decimal_places) }} as varchar)
{%- endmacro %}

{#- A number rounded to decimal_places the same way on every engine: its decimal value (cast to
    decimal(38, 10) first), an exact half away from zero. round() of a double differs between engines
    at an exact half: DuckDB rounds the binary value (0.88125 is 0.881249999... there: 0.8812), Spark
    the shortest decimal text of the double, half up (0.8813). -#}
{% macro round_half_up(expression, decimal_places=0) -%}
    cast(round(cast({{ expression }} as decimal(38, 10)), {{ decimal_places }}) as double)
{%- endmacro %}

{#- A percentage text of a 0..1 rate, e.g. 0.625 -> '62.5 %' (one decimal); null stays null. -#}
{% macro percent_text(rate_expression) -%}
    {{ number_to_text('100.0 * (' ~ rate_expression ~ ')', 1) }} || ' %'
{%- endmacro %}
