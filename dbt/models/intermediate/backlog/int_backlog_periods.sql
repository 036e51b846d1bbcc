{#- One row per (period_grain, period_start) of the backlog: the periods from the first opened change
    (or var('backlog_since')) to as_of, each with the time its backlog is taken (period_end_at: the
    next period's start, or as_of for the current period). var('backlog_period_grains') (default week,
    month) and var('backlog_since') bound the spine; unit tests narrow them. -#}
{%- set grains = var('backlog_period_grains', ['week', 'month']) -%}
{%- set since = var('backlog_since', none) -%}
with

lifetimes as (

    select * from {{ ref('int_change_backlog_lifetimes') }}

),

now_at as (

    select {{ as_of_timestamp() }} as as_of

),

{% for grain in grains %}
{{ grain }}_spine as (

    {{ period_spine(grain, ("cast('" ~ since ~ "' as timestamp)") if since else '(select min(opened_at) from lifetimes)', '(select as_of from now_at)') }}

),
{% endfor %}

periods as (

    {%- for grain in grains %}
    select
        '{{ grain }}' as period_grain,
        {{ grain }}_spine.period_start,
        least(cast({{ dbt.dateadd(grain, 1, grain ~ '_spine.period_start') }} as timestamp), now_at.as_of) as period_end_at,
        cast({{ dbt.dateadd(grain, 1, grain ~ '_spine.period_start') }} as timestamp) as next_period_start_at
    from {{ grain }}_spine
    cross join now_at
    {#- a period that begins at "now" (a build at 00:00 on the 1st) has not begun: it holds nothing #}
    where cast({{ grain }}_spine.period_start as timestamp) < now_at.as_of
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

final as (

    select
        period_grain,
        period_start,
        period_end_at,
        next_period_start_at,
        period_end_at < next_period_start_at as is_current_period
    from periods

)

select * from final
