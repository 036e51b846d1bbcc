-- A returned row is a period of a declared KPI of rpt_change_kpis (all changes) whose published
-- numerator or denominator differs from the number of records its declaration lists (the model,
-- event and flags of `records` in rpt_metric_definitions' meta): a click on the tile would open
-- other records than the number counts.
-- depends_on: {{ ref('rpt_change_kpis') }}
-- depends_on: {{ ref('rpt_metric_definitions') }}
-- depends_on: {{ ref('fct_changes') }}
-- depends_on: {{ ref('fct_incidents') }}
{%- set checks = [] -%}
{%- if execute -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.rpt_metric_definitions') -%}
    {%- for item in (node.config.meta or {}).get('metrics', []) -%}
        {%- set records = item.get('records') -%}
        {%- if records and item['model'] == 'rpt_change_kpis' -%}
            {%- do checks.append([item['metric'], 'numerator', item.get('numerator') or item['column'], records['model'], records['event'], records['numerator']]) -%}
            {%- if records.get('denominator') is not none -%}
                {%- do checks.append([item['metric'], 'denominator', item['denominator'], records['model'], records['event'], records['denominator']]) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}
with

published as (

    select * from {{ ref('rpt_change_kpis') }}
    where dimension = 'all'

),

listed as (

    {%- for check in checks %}
    {%- set outer = loop %}
    {%- for grain in var('kpi_period_grains') %}
    select
        '{{ check[0] }}' as metric,
        '{{ check[1] }}' as role,
        '{{ grain }}' as period_grain,
        {{ period_start("'" ~ grain ~ "'", check[4]) }} as period_start,
        count(*) as listed_count
    from {{ ref(check[3]) }}
    where {{ check[4] }} is not null
        {%- for flag in check[5] %}
        and {{ flag }}
        {%- endfor %}
    group by 1, 2, 3, 4
    {{ 'union all' if not (loop.last and outer.last) }}
    {%- endfor %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as metric,
        cast(null as {{ dbt.type_string() }}) as role,
        cast(null as {{ dbt.type_string() }}) as period_grain,
        cast(null as date) as period_start,
        cast(0 as bigint) as listed_count
    where false
    {%- endfor %}

),

counted as (

    {%- for check in checks %}
    select
        '{{ check[0] }}' as metric,
        '{{ check[1] }}' as role,
        period_grain,
        period_start,
        {{ check[2] }} as published_count
    from published
    {{ 'union all' if not loop.last }}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as metric,
        cast(null as {{ dbt.type_string() }}) as role,
        cast(null as {{ dbt.type_string() }}) as period_grain,
        cast(null as date) as period_start,
        cast(0 as bigint) as published_count
    where false
    {%- endfor %}

),

compared as (

    select
        coalesce(counted.metric, listed.metric) as metric,
        coalesce(counted.role, listed.role) as role,
        coalesce(counted.period_grain, listed.period_grain) as period_grain,
        coalesce(counted.period_start, listed.period_start) as period_start,
        coalesce(counted.published_count, 0) as published_count,
        coalesce(listed.listed_count, 0) as listed_count
    from counted
    full outer join listed
        on listed.metric = counted.metric
        and listed.role = counted.role
        and listed.period_grain = counted.period_grain
        and listed.period_start = counted.period_start

)

select * from compared
where published_count <> listed_count
