{#- "Now" for every age / window computation: the var `as_of` (a UTC timestamp string) or the
    build time in UTC. -#}
{% macro as_of_timestamp() -%}
    {%- set implementation = portable_fallback('as_of_timestamp') or adapter.dispatch('as_of_timestamp', 'changeboard') -%}
    {{ return(implementation()) }}
{%- endmacro %}

{#- Portable: the session's current timestamp as a plain timestamp; it is UTC when the session time
    zone is UTC (Trino: SET TIME ZONE 'UTC'; Spark: spark.sql.session.timeZone=UTC). -#}
{% macro default__as_of_timestamp() -%}
    {%- if var('as_of', none) -%}cast('{{ var("as_of") }}' as timestamp){%- else -%}cast(current_timestamp as timestamp){%- endif -%}
{%- endmacro %}

{% macro duckdb__as_of_timestamp() -%}
    {%- if var('as_of', none) -%}cast('{{ var("as_of") }}' as timestamp){%- else -%}(now() at time zone 'UTC'){%- endif -%}
{%- endmacro %}

{#- Hours from `start_at` to `end_at` as a double (negative when end precedes start). -#}
{% macro hours_between(start_at, end_at) -%}
    {%- set implementation = portable_fallback('hours_between') or adapter.dispatch('hours_between', 'changeboard') -%}
    {{ return(implementation(start_at, end_at)) }}
{%- endmacro %}

{#- Portable: dbt's cross-database datediff in seconds (whole seconds: our timestamps have none
    finer), as a double divided by 3600. The cast keeps the fraction on engines whose integer
    division truncates or whose decimal literals (3600.0) limit the result's scale (Trino). -#}
{% macro default__hours_between(start_at, end_at) -%}
    (cast({{ dbt.datediff(start_at, end_at, 'second') }} as double) / 3600)
{%- endmacro %}

{% macro duckdb__hours_between(start_at, end_at) -%}
    (date_diff('second', {{ start_at }}, {{ end_at }}) / 3600.0)
{%- endmacro %}

{#- A duration in hours, or null when it is negative (end before start). -#}
{% macro non_negative_hours(start_at, end_at) -%}
    case when {{ end_at }} >= {{ start_at }} then {{ hours_between(start_at, end_at) }} end
{%- endmacro %}

{#- Parse a raw true/false text (true, yes, 1, y / false, no, 0, n) into a boolean; else null. -#}
{% macro parse_boolean(raw) -%}
    case
        when lower(trim({{ raw }})) in ('true', 'yes', 'y', '1', 't') then true
        when lower(trim({{ raw }})) in ('false', 'no', 'n', '0', 'f') then false
    end
{%- endmacro %}

{#- The normalised lookup key of a raw enumeration value: trimmed and lowercased. -#}
{% macro lookup_key(raw) -%}
    lower(trim({{ raw }}))
{%- endmacro %}

{#- The leading integer of a "1 - High" style display value, or null. -#}
{% macro leading_integer(raw) -%}
    try_cast(nullif(regexp_extract(trim({{ raw }}), '^([0-9]+)', 1), '') as integer)
{%- endmacro %}

{#- A timestamp as ISO text with microseconds, '2024-03-01T09:30:00.000000' (a stable id part).
    Dispatched (DuckDB: strftime; Spark: date_format; default: the timestamp cast to text with
    'T' between date and time, which gives the same text on Trino's timestamp(6)). -#}
{% macro timestamp_to_text(expression) -%}
    {%- set implementation = portable_fallback('timestamp_to_text') or adapter.dispatch('timestamp_to_text', 'changeboard') -%}
    {{ return(implementation(expression)) }}
{%- endmacro %}

{% macro default__timestamp_to_text(expression) -%}
    replace(cast({{ expression }} as {{ dbt.type_string() }}), ' ', 'T')
{%- endmacro %}

{% macro duckdb__timestamp_to_text(expression) -%}
    strftime({{ expression }}, '%Y-%m-%dT%H:%M:%S.%f')
{%- endmacro %}

{% macro spark__timestamp_to_text(expression) -%}
    concat(date_format({{ expression }}, 'yyyy-MM-dd'), 'T', date_format({{ expression }}, 'HH:mm:ss.SSSSSS'))
{%- endmacro %}

{#- True when the text `expression` contains a match of the regular expression `pattern` (a SQL
    string expression, e.g. a quoted literal); null when either is null. Dispatched (DuckDB:
    regexp_matches; Spark: rlike; default: regexp_like, as in Trino). -#}
{% macro regex_matches(expression, pattern) -%}
    {%- set implementation = portable_fallback('regex_matches') or adapter.dispatch('regex_matches', 'changeboard') -%}
    {{ return(implementation(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expression, pattern) -%}
    regexp_like({{ expression }}, {{ pattern }})
{%- endmacro %}

{% macro duckdb__regex_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regex_matches(expression, pattern) -%}
    ({{ expression }} rlike {{ pattern }})
{%- endmacro %}
