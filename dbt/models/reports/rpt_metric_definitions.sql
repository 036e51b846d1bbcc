{#- One row per KPI the dashboards and the CAB pack show: its label, unit, direction, the published
    column that holds it and the columns of its numerator and denominator. The declaration is the
    `metrics` list in this model's meta (rpt_metric_definitions.yml, shown by dbt docs); the help
    text is the description of the value column (its doc block in models/docs.md), read from the
    project's graph, so neither is written twice. The full definitions: docs/metrics.md.
    Records: a metric that declares `records` (model, event, numerator, denominator) names the public
    model holding its records, the timestamp that puts a record in a period and the boolean flags of
    that model that select its numerator's and its denominator's records (all of them true); the app
    lists exactly those records when a tile, a bar or a point is clicked, and
    assert_metric_records_match_published_counts holds them to the published counts. A metric resting
    on a base (a median, a deployment frequency) declares `base` (the flags of the records its base
    counts) and `measure` (a median's column, not null in each of them) instead; `when` names the
    published row's column and value under which the records are another model's (rpt_dora's
    deployment records, DECISIONLOG D48). A sum (the outage hours) declares `base`, `measure` and
    `aggregate: sum`: its value is the sum of the measure over the base records (DECISIONLOG D50);
    measure_aggregate publishes how the value aggregates the measure (median unless declared).
    A snapshot (the backlog at a period's end) declares `grain`: the record model's column holding the
    period grain, whose rows are one per period and grain (event: their period_start; DECISIONLOG D51).
    A difference (the backlog growth: opened - left) declares `numerator` (the records it adds) and
    `subtract` (the records it takes away): its value is the count of the first less the second's.
    Targets: each metric's declared default (`target`, `amber` in the meta) unless the build's `targets`
    var (the [targets] table of changeboard.toml, DECISIONLOG D37) sets it. min_base: the smallest
    count (base_column: the denominator, or the records a median rests on) on which a metric's target
    status, band and change from the period before are shown, var('min_base') (the `[display] min_base`
    of changeboard.toml, DECISIONLOG D44), for every metric with a base. -#}
{%- set fields = ['metric', 'label', 'short_label', 'unit', 'direction', 'model_name', 'value_column', 'numerator_column',
    'denominator_column', 'population', 'event_column', 'band_column', 'confidence_metric', 'description',
    'base_column', 'record_model', 'record_event_column', 'numerator_flags', 'denominator_flags', 'base_flags',
    'measure_column', 'measure_aggregate', 'when_column', 'when_value', 'when_record_model', 'when_record_event_column', 'when_base_flags',
    'when_measure_column', 'record_grain_column', 'subtract_flags'] -%}
{%- set rows = [] -%}
{%- set targets = [] -%}
{%- set min_base = var('min_base', 20) -%}
{%- if min_base is string or min_base is boolean or min_base is not number or min_base < 0 -%}
    {{ exceptions.raise_compiler_error('[display] min_base in changeboard.toml must be a whole number of records, not ' ~ min_base) }}
{%- endif -%}
{%- if execute -%}
    {%- set overrides = var('targets') or {} -%}
    {%- set declared = (model.config.meta or {}).get('metrics') or model.meta.get('metrics') or [] -%}
    {%- set declared_keys = declared | map(attribute='metric') | list -%}
    {%- for key in overrides -%}
        {%- if key not in declared_keys -%}
            {{ exceptions.raise_compiler_error('[targets] in changeboard.toml names ' ~ key ~ ', which is not a declared metric (one of: ' ~ declared_keys | join(', ') ~ ')') }}
        {%- endif -%}
    {%- endfor -%}
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
        {#- the records behind the metric: flags must be documented columns of a public model -#}
        {%- set records = item.get('records') or {} -%}
        {%- set flag_lists = [] -%}
        {%- if records -%}
            {%- set record_node = graph.nodes.get('model.' ~ project_name ~ '.' ~ records['model']) -%}
            {%- if record_node is none -%}
                {{ exceptions.raise_compiler_error('rpt_metric_definitions: metric ' ~ item['metric'] ~ ' takes its records from ' ~ records['model'] ~ ', which is not in the project') }}
            {%- endif -%}
            {%- set measure = [records['measure']] if records.get('measure') else [] -%}
            {%- set grain = [records['grain']] if records.get('grain') else [] -%}
            {%- for name in [records['event']] + records.get('numerator', []) + (records.get('denominator') or []) + (records.get('base') or []) + measure + grain + (records.get('subtract') or []) -%}
                {%- if record_node.columns.get(name) is none -%}
                    {{ exceptions.raise_compiler_error('rpt_metric_definitions: metric ' ~ item['metric'] ~ ' names ' ~ records['model'] ~ '.' ~ name ~ ', which has no documented column') }}
                {%- endif -%}
            {%- endfor -%}
            {%- if (records.get('denominator') is not none) != (item.get('denominator') is not none) -%}
                {{ exceptions.raise_compiler_error('rpt_metric_definitions: metric ' ~ item['metric'] ~ ' declares denominator records exactly when it has a denominator') }}
            {%- endif -%}
            {%- set aggregate = records.get('aggregate') or ('median' if records.get('measure') else none) -%}
            {%- if aggregate not in [none, 'median', 'sum'] or (aggregate == 'sum' and not records.get('measure')) -%}
                {{ exceptions.raise_compiler_error('rpt_metric_definitions: metric ' ~ item['metric'] ~ ' declares aggregate ' ~ aggregate ~ ': a measure aggregates as median (the default) or sum, and a sum needs its measure') }}
            {%- endif -%}
            {%- set on_base = (item.get('base') is not none and item.get('denominator') is none) or aggregate == 'sum' -%}
            {%- if (records.get('base') is not none) != on_base or (records.get('numerator') is not none) == on_base -%}
                {{ exceptions.raise_compiler_error('rpt_metric_definitions: metric ' ~ item['metric'] ~ ' declares base records exactly when it rests on a base without a denominator (a median, a frequency) or sums a measure, numerator records otherwise') }}
            {%- endif -%}
            {%- set when = records.get('when') or {} -%}
            {%- if when -%}
                {%- set when_node = graph.nodes.get('model.' ~ project_name ~ '.' ~ when['model']) -%}
                {%- if when_node is none or node.columns.get(when['column']) is none or when.get('base') is none -%}
                    {{ exceptions.raise_compiler_error('rpt_metric_definitions: metric ' ~ item['metric'] ~ ': `when` names a documented column of ' ~ item['model'] ~ ', a model of the project and its base flags') }}
                {%- endif -%}
                {%- for name in [when['event']] + when['base'] + ([when['measure']] if when.get('measure') else []) -%}
                    {%- if when_node.columns.get(name) is none -%}
                        {{ exceptions.raise_compiler_error('rpt_metric_definitions: metric ' ~ item['metric'] ~ ' names ' ~ when['model'] ~ '.' ~ name ~ ', which has no documented column') }}
                    {%- endif -%}
                {%- endfor -%}
            {%- endif -%}
            {%- do flag_lists.append(none if records.get('numerator') is none else records['numerator'] | join(',')) -%}
            {%- do flag_lists.append(none if records.get('denominator') is none else records['denominator'] | join(',')) -%}
            {%- do flag_lists.append(none if records.get('base') is none else records['base'] | join(',')) -%}
            {%- do flag_lists.append(records.get('measure')) -%}
            {%- do flag_lists.append(aggregate) -%}
            {%- do flag_lists.extend([when.get('column'), when.get('value'), when.get('model'), when.get('event'),
                none if when.get('base') is none else when['base'] | join(','), when.get('measure')]) -%}
            {%- if records.get('subtract') is not none and (records.get('numerator') is none or records.get('denominator') is not none) -%}
                {{ exceptions.raise_compiler_error('rpt_metric_definitions: metric ' ~ item['metric'] ~ ' subtracts records: a difference declares numerator (what it adds) and subtract (what it takes away), no denominator') }}
            {%- endif -%}
            {%- do flag_lists.append(records.get('grain')) -%}
            {%- do flag_lists.append(none if records.get('subtract') is none else records['subtract'] | join(',')) -%}
        {%- else -%}
            {%- do flag_lists.extend([none] * 13) -%}
        {%- endif -%}
        {%- do rows.append([
            item['metric'], item['label'], item.get('short', item['label']), item['unit'], item['direction'], item['model'], item['column'],
            item.get('numerator'), item.get('denominator'), item.get('population'), item.get('event'),
            item.get('band'), item.get('confidence'), column.description | trim, item.get('base', item.get('denominator')),
            records.get('model'), records.get('event')] + flag_lists) -%}
        {#- an override is a number (the target; amber = target) or a table {target = .., amber = ..} -#}
        {%- set override = overrides.get(item['metric']) -%}
        {%- if override is none -%}
            {%- do targets.append([item.get('target'), item.get('amber', item.get('target')), 'default' if item.get('target') is not none else none]) -%}
        {%- elif override is mapping -%}
            {%- if 'target' not in override or (override.keys() | reject('in', ['target', 'amber']) | list) -%}
                {{ exceptions.raise_compiler_error('[targets] ' ~ item['metric'] ~ ' in changeboard.toml: write a number or {target = .., amber = ..}, not ' ~ override) }}
            {%- endif -%}
            {%- do targets.append([override['target'], override.get('amber', override['target']), 'changeboard.toml']) -%}
        {%- else -%}
            {%- do targets.append([override, override, 'changeboard.toml']) -%}
        {%- endif -%}
        {%- for number in targets[-1][:2] -%}
            {%- if number is not none and (number is string or number is boolean or number is not number) -%}
                {{ exceptions.raise_compiler_error('[targets] ' ~ item['metric'] ~ ': ' ~ number ~ ' is not a number (rates are written as fractions: 0.95 for 95 %)') }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}
with

definitions as (

    {%- for row in rows %}
    select
        {{ loop.index }} as display_order,
        {%- for field in fields %}
        {%- set value = row[loop.index0] %}
        {% if value is none %}cast(null as {{ dbt.type_string() }}){% else %}cast('{{ value | replace("'", "''") }}' as {{ dbt.type_string() }}){% endif %} as {{ field }},
        {%- endfor %}
        {%- set goal = targets[loop.index0] %}
        cast({{ 'null' if goal[0] is none else goal[0] }} as double) as target_value,
        cast({{ 'null' if goal[1] is none else goal[1] }} as double) as amber_value,
        {% if goal[2] is none %}cast(null as {{ dbt.type_string() }}){% else %}cast('{{ goal[2] }}' as {{ dbt.type_string() }}){% endif %} as target_source,
        cast({{ 'null' if row[14] is none else min_base | int }} as bigint) as min_base
    {{ 'union all' if not loop.last }}
    {%- else %}
    select
        0 as display_order,
        {%- for field in fields %}
        cast(null as {{ dbt.type_string() }}) as {{ field }},
        {%- endfor %}
        cast(null as double) as target_value,
        cast(null as double) as amber_value,
        cast(null as {{ dbt.type_string() }}) as target_source,
        cast(null as bigint) as min_base
    where false
    {%- endfor %}

)

select * from definitions
