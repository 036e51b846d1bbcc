{#- One row per KPI the dashboards and the CAB pack show: its label, unit, direction, the published
    column that holds it and the columns of its numerator and denominator. The declaration is the
    `metrics` list in this model's meta (rpt_metric_definitions.yml, shown by dbt docs); the help
    text is the description of the value column (its doc block in models/docs.md), read from the
    project's graph, so neither is written twice. The full definitions: docs/metrics.md. -#}
{%- set fields = ['metric', 'label', 'short_label', 'unit', 'direction', 'model_name', 'value_column', 'numerator_column',
    'denominator_column', 'population', 'event_column', 'band_column', 'confidence_metric', 'description'] -%}
{%- set rows = [] -%}
{%- if execute -%}
    {%- set declared = (model.config.meta or {}).get('metrics') or model.meta.get('metrics') or [] -%}
    {%- for item in declared -%}
        {%- set node_id = 'model.' ~ project_name ~ '.' ~ item['model'] -%}
        {%- set node = graph.nodes.get(node_id) -%}
        {%- if node is none -%}
            {{ exceptions.raise_compiler_error('rpt_metric_definitions: metric ' ~ item['metric'] ~ ' names model ' ~ item['model'] ~ ', which is not in the project') }}
        {%- endif -%}
        {%- set column = node.columns.get(item['column']) -%}
        {%- if column is none or not column.description -%}
            {{ exceptions.raise_compiler_error('rpt_metric_definitions: metric ' ~ item['metric'] ~ ' names ' ~ item['model'] ~ '.' ~ item['column'] ~ ', which has no documented column') }}
        {%- endif -%}
        {%- do rows.append([
            item['metric'], item['label'], item.get('short', item['label']), item['unit'], item['direction'], item['model'], item['column'],
            item.get('numerator'), item.get('denominator'), item.get('population'), item.get('event'),
            item.get('band'), item.get('confidence'), column.description | trim
        ]) -%}
    {%- endfor -%}
{%- endif -%}
with

definitions as (

    {%- for row in rows %}
    select
        {{ loop.index }} as display_order,
        {%- for field in fields %}
        {%- set value = row[loop.index0] %}
        {% if value is none %}cast(null as {{ dbt.type_string() }}){% else %}cast('{{ value | replace("'", "''") }}' as {{ dbt.type_string() }}){% endif %} as {{ field }}{{ ',' if not loop.last }}
        {%- endfor %}
    {{ 'union all' if not loop.last }}
    {%- else %}
    select
        0 as display_order,
        {%- for field in fields %}
        cast(null as {{ dbt.type_string() }}) as {{ field }}{{ ',' if not loop.last }}
        {%- endfor %}
    where false
    {%- endfor %}

)

select * from definitions
