{#- The portable fallback of one of changeboard's dispatched macros, or none. A dispatcher runs
    `portable_fallback('<name>') or adapter.dispatch('<name>', 'changeboard')`: normally the
    adapter's own implementation (duckdb__<name> on DuckDB, spark__<name> on Spark where one
    exists, else default__<name>); its portable default__<name> when var('portable_fallbacks') is
    true or a list naming the macro, so a DuckDB build can prove the fallbacks give the same
    results (tests/dbt/test_portable_fallbacks.py). -#}
{% macro portable_fallback(macro_name) -%}
    {%- set fallbacks = var('portable_fallbacks', false) -%}
    {%- set is_list = fallbacks is iterable and fallbacks is not string and fallbacks is not mapping -%}
    {%- if not (is_list or fallbacks is sameas true or fallbacks is sameas false or fallbacks is none) -%}
        {{ exceptions.raise_compiler_error("var portable_fallbacks is true, false or a list of macro names, not " ~ fallbacks) }}
    {%- endif -%}
    {%- if is_list -%}
        {%- for name in fallbacks if context.get('default__' ~ name) is none -%}
            {{ exceptions.raise_compiler_error("var portable_fallbacks names " ~ name ~ ", which is no changeboard macro with a default__ implementation") }}
        {%- endfor -%}
    {%- endif -%}
    {%- if fallbacks is sameas true or (is_list and macro_name in fallbacks) -%}
        {{ return(context['default__' ~ macro_name]) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
