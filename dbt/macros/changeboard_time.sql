{#- "Now" for every age / window computation: the var `as_of` (a UTC timestamp string) or the
    build time in UTC. -#}
{% macro as_of_timestamp() -%}
    {{ return(adapter.dispatch('as_of_timestamp', 'changeboard')()) }}
{%- endmacro %}

{% macro default__as_of_timestamp() -%}
    {%- if var('as_of', none) -%}cast('{{ var("as_of") }}' as timestamp){%- else -%}cast(current_timestamp as timestamp){%- endif -%}
{%- endmacro %}

{% macro duckdb__as_of_timestamp() -%}
    {%- if var('as_of', none) -%}cast('{{ var("as_of") }}' as timestamp){%- else -%}(now() at time zone 'UTC'){%- endif -%}
{%- endmacro %}

{#- Hours from `start_at` to `end_at` as a double (negative when end precedes start). -#}
{% macro hours_between(start_at, end_at) -%}
    {{ return(adapter.dispatch('hours_between', 'changeboard')(start_at, end_at)) }}
{%- endmacro %}

{% macro default__hours_between(start_at, end_at) -%}
    (extract(epoch from ({{ end_at }})) - extract(epoch from ({{ start_at }}))) / 3600.0
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
