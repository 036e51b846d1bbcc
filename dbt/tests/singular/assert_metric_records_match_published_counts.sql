-- A returned row is a period of a declared KPI of rpt_change_kpis (all changes), rpt_dora, rpt_backlog or
-- fct_releases (summed over the releases deployed in the period) whose published numerator, denominator or base
-- differs from the number of records its declaration lists (the model, event, flags and measure of
-- `records` in rpt_metric_definitions' meta; in a period whose published row has the `when` column at
-- its value, the records of the `when` model), or, for a sum (`aggregate: sum`), whose published value
-- differs from the sum of the measure over those records: a click on the tile would open other records
-- than the number counts (DECISIONLOG D46, D48, D50); for a difference, whose value differs from the
-- count of the records it adds less the count of those it takes away. Records declaring `grain` are snapshots: a period's
-- are the rows of its grain whose event (their period_start) is in it (D51).
-- depends_on: {{ ref('rpt_change_kpis') }}
-- depends_on: {{ ref('rpt_dora') }}
-- depends_on: {{ ref('rpt_backlog') }}
-- depends_on: {{ ref('fct_backlog_snapshots') }}
-- depends_on: {{ ref('fct_backlog_movements') }}
-- depends_on: {{ ref('rpt_metric_definitions') }}
-- depends_on: {{ ref('fct_changes') }}
-- depends_on: {{ ref('fct_incidents') }}
-- depends_on: {{ ref('fct_production_changes') }}
-- depends_on: {{ ref('fct_deployments') }}
-- depends_on: {{ ref('fct_releases') }}
{#- a check: metric, role, published column, published model, source ('default' / 'when'), record model,
    event, flags, measure, when column, when value, the metric's event (fct_releases: the published
    model's timestamp that puts a release in the period), the record model's grain column (snapshots) -#}
{%- set checks = [] -%}
{%- set published_models = {'rpt_change_kpis': "dimension = 'all'", 'rpt_dora': 'true', 'rpt_backlog': "period_grain in ('" ~ var('kpi_period_grains') | join("', '") ~ "')", 'fct_releases': none} -%}
{%- if execute -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.rpt_metric_definitions') -%}
    {%- for item in (node.config.meta or {}).get('metrics', []) -%}
        {%- set records = item.get('records') -%}
        {%- if records and item['model'] in published_models -%}
            {%- set when = records.get('when') or {} -%}
            {%- set roles = [] -%}
            {%- if records.get('aggregate') == 'sum' -%}
                {#- a sum: the published value is the measure summed over the base records -#}
                {%- do roles.append(['sum', item['column'], records['base'], records['measure'], when.get('base'), when.get('measure')]) -%}
            {%- elif records.get('subtract') is not none -%}
                {#- a difference: the published value is the numerator's records less the subtracted ones -#}
                {%- do roles.append(['difference', item['column'], records['numerator'], records['subtract'], none, none]) -%}
            {%- elif records.get('base') is not none -%}
                {%- do roles.append(['base', item['base'], records['base'], records.get('measure'), when.get('base'), when.get('measure')]) -%}
            {%- else -%}
                {%- do roles.append(['numerator', item.get('numerator') or item['column'], records['numerator'], none, none, none]) -%}
                {%- if records.get('denominator') is not none -%}
                    {%- do roles.append(['denominator', item['denominator'], records['denominator'], none, none, none]) -%}
                {%- endif -%}
            {%- endif -%}
            {%- for role in roles -%}
                {%- do checks.append([item['metric'], role[0], role[1], item['model'], 'default', records['model'], records['event'], role[2], role[3], when.get('column'), when.get('value'), item.get('event'), records.get('grain')]) -%}
                {%- if when -%}
                    {%- do checks.append([item['metric'], role[0], role[1], item['model'], 'when', when['model'], when['event'], role[4], role[5], when['column'], when['value'], item.get('event'), none]) -%}
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
        {%- if check[1] == 'sum' %}
        cast(coalesce(sum({{ check[8] }}), 0) as double) as listed_value
        {%- elif check[1] == 'difference' %}
        cast(count(case when {{ check[7] | join(' and ') or 'true' }} then 1 end)
            - count(case when {{ check[8] | join(' and ') }} then 1 end) as double) as listed_value
        {%- else %}
        cast(count(*) as double) as listed_value
        {%- endif %}
    from {{ ref(check[5]) }}
    where {{ check[6] }} is not null
        {%- if check[1] != 'difference' %}
        {%- for flag in check[7] %}
        and {{ flag }}
        {%- endfor %}
        {%- if check[8] %}
        and {{ check[8] }} is not null
        {%- endif %}
        {%- endif %}
        {%- if check[12] %}
        and {{ check[12] }} = '{{ grain }}'
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
        cast(0 as double) as listed_value
    where false
    {%- endfor %}

),

counted as (

    {%- for check in checks if check[4] == 'default' %}
    {%- if check[3] == 'fct_releases' %}
    {#- a release metric is a column of fct_releases: a period's value is its sum over the releases
        deployed in the period (a flag counts as 1) -#}
    {%- set outer = loop %}
    {%- for grain in var('kpi_period_grains') %}
    select
        '{{ check[0] }}' as metric,
        '{{ check[1] }}' as role,
        'default' as source,
        '{{ grain }}' as period_grain,
        {{ period_start("'" ~ grain ~ "'", check[11]) }} as period_start,
        cast(sum(cast({{ check[2] }} as bigint)) as double) as published_value
    from {{ ref(check[3]) }}
    where {{ check[11] }} is not null
    group by 1, 2, 3, 4, 5
    {{ 'union all' if not (loop.last and outer.last) }}
    {%- endfor %}
    {%- else %}
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
        cast({{ check[2] }} as double) as published_value
    from {{ ref(check[3]) }}
    where {{ published_models[check[3]] }}
    {{ 'union all' if not loop.last }}
    {%- endif %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as metric,
        cast(null as {{ dbt.type_string() }}) as role,
        cast(null as {{ dbt.type_string() }}) as source,
        cast(null as {{ dbt.type_string() }}) as period_grain,
        cast(null as date) as period_start,
        cast(0 as double) as published_value
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
        coalesce(counted.published_value, 0) as published_value,
        coalesce(listed.listed_value, 0) as listed_value
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
-- counts are whole numbers (exact in a double); a sum may differ in its last bits with the order it adds
where abs(compared.published_value - compared.listed_value) > 1e-6 * greatest(1, abs(compared.published_value))
    and published_periods.metric is null
