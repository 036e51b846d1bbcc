-- A returned row is a period of a declared KPI of rpt_change_kpis (all changes) or rpt_dora whose
-- published numerator, denominator or base differs from the number of records its declaration lists
-- (the model, event, flags and measure of `records` in rpt_metric_definitions' meta; in a period whose
-- published row has the `when` column at its value, the records of the `when` model): a click on the
-- tile would open other records than the number counts (DECISIONLOG D46, D48).
-- depends_on: {{ ref('rpt_change_kpis') }}
-- depends_on: {{ ref('rpt_dora') }}
-- depends_on: {{ ref('rpt_metric_definitions') }}
-- depends_on: {{ ref('fct_changes') }}
-- depends_on: {{ ref('fct_incidents') }}
-- depends_on: {{ ref('fct_production_changes') }}
-- depends_on: {{ ref('fct_deployments') }}
{#- a check: metric, role, published column, published model, source ('default' / 'when'), record model,
    event, flags, measure, when column, when value -#}
{%- set checks = [] -%}
{%- set published_models = {'rpt_change_kpis': "dimension = 'all'", 'rpt_dora': 'true'} -%}
{%- if execute -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.rpt_metric_definitions') -%}
    {%- for item in (node.config.meta or {}).get('metrics', []) -%}
        {%- set records = item.get('records') -%}
        {%- if records and item['model'] in published_models -%}
            {%- set when = records.get('when') or {} -%}
            {%- set roles = [] -%}
            {%- if records.get('base') is not none -%}
                {%- do roles.append(['base', item['base'], records['base'], records.get('measure'), when.get('base'), when.get('measure')]) -%}
            {%- else -%}
                {%- do roles.append(['numerator', item.get('numerator') or item['column'], records['numerator'], none, none, none]) -%}
                {%- if records.get('denominator') is not none -%}
                    {%- do roles.append(['denominator', item['denominator'], records['denominator'], none, none, none]) -%}
                {%- endif -%}
            {%- endif -%}
            {%- for role in roles -%}
                {%- do checks.append([item['metric'], role[0], role[1], item['model'], 'default', records['model'], records['event'], role[2], role[3], when.get('column'), when.get('value')]) -%}
                {%- if when -%}
                    {%- do checks.append([item['metric'], role[0], role[1], item['model'], 'when', when['model'], when['event'], role[4], role[5], when['column'], when['value']]) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}
with

listed as (

    {%- for check in checks %}
    {%- set outer = loop %}
    {%- for grain in var('kpi_period_grains') %}
    select
        '{{ check[0] }}' as metric,
        '{{ check[1] }}' as role,
        '{{ check[4] }}' as source,
        '{{ grain }}' as period_grain,
        {{ period_start("'" ~ grain ~ "'", check[6]) }} as period_start,
        count(*) as listed_count
    from {{ ref(check[5]) }}
    where {{ check[6] }} is not null
        {%- for flag in check[7] %}
        and {{ flag }}
        {%- endfor %}
        {%- if check[8] %}
        and {{ check[8] }} is not null
        {%- endif %}
    group by 1, 2, 3, 4, 5
    {{ 'union all' if not (loop.last and outer.last) }}
    {%- endfor %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as metric,
        cast(null as {{ dbt.type_string() }}) as role,
        cast(null as {{ dbt.type_string() }}) as source,
        cast(null as {{ dbt.type_string() }}) as period_grain,
        cast(null as date) as period_start,
        cast(0 as bigint) as listed_count
    where false
    {%- endfor %}

),

counted as (

    {%- set seen = [] %}
    {%- for check in checks if check[4] == 'default' %}
    select
        '{{ check[0] }}' as metric,
        '{{ check[1] }}' as role,
        {%- if check[9] %}
        case when {{ check[9] }} = '{{ check[10] }}' then 'when' else 'default' end as source,
        {%- else %}
        'default' as source,
        {%- endif %}
        period_grain,
        period_start,
        {{ check[2] }} as published_count
    from {{ ref(check[3]) }}
    where {{ published_models[check[3]] }}
    {{ 'union all' if not loop.last }}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as metric,
        cast(null as {{ dbt.type_string() }}) as role,
        cast(null as {{ dbt.type_string() }}) as source,
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
        coalesce(counted.source, listed.source) as source,
        coalesce(counted.period_grain, listed.period_grain) as period_grain,
        coalesce(counted.period_start, listed.period_start) as period_start,
        coalesce(counted.published_count, 0) as published_count,
        coalesce(listed.listed_count, 0) as listed_count
    from counted
    full outer join listed
        on listed.metric = counted.metric
        and listed.role = counted.role
        and listed.source = counted.source
        and listed.period_grain = counted.period_grain
        and listed.period_start = counted.period_start

),

published_periods as (

    -- a period's records come from one source: the other source's records of a published period are
    -- not the number's (e.g. the change requests of a week with deployment records)
    select distinct metric, role, source, period_grain, period_start
    from counted

)

select compared.*
from compared
left join published_periods
    on published_periods.metric = compared.metric
    and published_periods.role = compared.role
    and published_periods.period_grain = compared.period_grain
    and published_periods.period_start = compared.period_start
    and published_periods.source <> compared.source
where compared.published_count <> compared.listed_count
    and published_periods.metric is null
